package server

import (
	"testing"
	"unsafe"
)

// TestCallSizeClass: a call is allocated per KMS request; at 512 bytes it
// fills the runtime's 512-byte size class exactly, and a field more would
// cost 64 bytes a request (the 576-byte class). Grow it knowingly.
func TestCallSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(call{}); n > 512 {
		t.Fatalf("call is %d bytes: over the 512-byte size class", n)
	}
}
