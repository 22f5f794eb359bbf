package xks

import (
	"time"

	"github.com/trentkms/trent/internal/sigv4"
)

// Credential is one SigV4 credential set shared by KMS and the proxy.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
}

// newSigner returns the signer of a client's requests: service
// kms-xks-proxy, the given Region. It signs Host, Content-Type,
// Content-Length and X-Amz-Date, as aws-sdk-go-v2 does.
func newSigner(c Credential, region string) *sigv4.Signer {
	return &sigv4.Signer{AccessKeyID: c.AccessKeyID, Secret: []byte(c.SecretAccessKey), Region: region, Service: Service}
}

// newVerifier returns the verifier of a proxy's requests: service
// kms-xks-proxy, the given Region, any of creds, within five minutes of
// now. It requires Host and X-Amz-Date to be signed and nothing more,
// because that is what AWS KMS signs (XKS proxy API, appendix A).
func newVerifier(creds []Credential, region string, now func() time.Time) *sigv4.Verifier {
	src := make(sigv4.StaticCredentials, len(creds))
	for _, c := range creds {
		src[c.AccessKeyID] = sigv4.Secret{Key: []byte(c.SecretAccessKey)}
	}
	return &sigv4.Verifier{Source: src, Region: region, Services: []string{Service}, MustSign: sigv4.SignHostAndDate, Now: now}
}
