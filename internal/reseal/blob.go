package reseal

import "github.com/trentkms/trent/internal/rootkey"

// Stale reports whether blob is sealed under a root key other than cur, so
// that a Resealer must seal it again. A nil blob, or one whose header names
// no root key, is not stale.
func Stale(blob []byte, cur string) bool {
	if blob == nil {
		return false
	}
	id, err := rootkey.SealedBy(blob)
	return err == nil && id != cur
}

// Blob opens blob, sealed with aad, and seals its content again with aad
// under root's current key. The plaintext is cleared before Blob returns.
// Its errors are root's: rootkey.ErrOpen (wrapped) if root does not hold
// the key that sealed blob.
func Blob(root rootkey.Provider, blob, aad []byte) ([]byte, error) {
	pt, err := root.Open(blob, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return root.Seal(pt, aad)
}
