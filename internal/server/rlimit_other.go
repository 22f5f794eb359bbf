//go:build !unix

package server

import "errors"

// RaiseFileLimit is not supported on this system: it has no RLIMIT_NOFILE.
func RaiseFileLimit() (soft, hard uint64, err error) {
	return 0, 0, errors.New("no RLIMIT_NOFILE on this system")
}

// FileLimit returns 0: the limit is unknown, and connections are bounded
// only by the configuration.
func FileLimit() uint64 { return 0 }
