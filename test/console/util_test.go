package console

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
)

func verifyP256(pub *ecdsa.PublicKey, msg, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return false
	}
	h := sha256.Sum256([]byte(msg))
	return ecdsa.VerifyASN1(pub, h[:], sig)
}
