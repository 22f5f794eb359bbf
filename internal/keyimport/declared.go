package keyimport

import (
	"crypto/subtle"

	"github.com/trentkms/trent/internal/kms"
)

// HasMaterial reports whether material (plaintext, as a keys file holds it)
// is one the key d has had: the same bits as one of its imported
// materials, by fingerprint, as ImportKeyMaterial recognizes them. It
// returns IncorrectKeyMaterialException for material not valid for d's
// spec. The keys file uses it to tell the material it declared from other
// material without writing anything.
func HasMaterial(d *kms.KeyDoc, material []byte) (bool, error) {
	identity, err := materialIdentity(d.Spec, d.Usage, material)
	if err != nil {
		return false, err
	}
	fp := materialFingerprint(d.ID, identity)
	for _, m := range d.Materials {
		if m.Fingerprint != nil && subtle.ConstantTimeCompare(m.Fingerprint, fp) == 1 {
			return true, nil
		}
	}
	return false, nil
}
