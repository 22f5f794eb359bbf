package keystore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
	"github.com/trentkms/trent/internal/xks"
)

// The XKS backend: an EXTERNAL_KEY_STORE store calls an XKS proxy at
// XksProxyUriEndpoint + XksProxyUriPath (PUBLIC_ENDPOINT connectivity
// only) with the SigV4 credential the store holds. Encryption is double, as
// AWS does it: the plaintext is first sealed with the key's own material
// inside Trent, and that inner body is then encrypted by the proxy under
// the external key.

// xksTagSize is the length of the proxy's authentication tag.
const xksTagSize = 16

// xksConn is the client of an external key store's proxy.
type xksConn struct {
	s      *Service
	client *xks.Client
}

func (c *xksConn) close() {}

func (s *Service) newXKSClient(d *keyStoreDoc, secret []byte) (*xks.Client, error) {
	cfg := xks.ClientConfig{Endpoint: d.XksEndpoint, Path: d.XksPath, Region: s.kms.Region(), Timeout: s.cfg.XKSTimeout,
		Credential: xks.Credential{AccessKeyID: d.XksAccessKeyID, SecretAccessKey: string(secret)}}
	if s.cfg.NewXKSClient != nil {
		return s.cfg.NewXKSClient(cfg)
	}
	return xks.NewClient(cfg)
}

// xksMetadata is the requestMetadata Trent sends with a proxy call.
func xksMetadata(ctx context.Context, op, keyARN string) xks.RequestMetadata {
	var id [16]byte
	rand.Read(id[:])
	md := xks.RequestMetadata{KMSOperation: op, KMSRequestID: hex.EncodeToString(id[:]), KMSKeyARN: keyARN}
	if c := kms.CallerFrom(ctx); c != nil {
		md.AWSPrincipalARN = c.ARN
	}
	return md
}

// probeProxy checks that an external key store's proxy answers.
func (s *Service) probeProxy(ctx context.Context, d *keyStoreDoc, secret []byte) error {
	c, err := s.newXKSClient(d, secret)
	if err != nil {
		return awserr.New(awserr.XksProxyInvalidConfiguration, "The external key store proxy configuration is not valid.")
	}
	_, err = c.Health(ctx, xksMetadata(ctx, "CreateCustomKeyStore", ""))
	if err != nil {
		return xks.ToAWS(err, xks.CallerKeyStore)
	}
	return nil
}

// tryConnectProxy checks an external key store's proxy's health and returns
// "" or a ConnectionErrorCode.
func (s *Service) tryConnectProxy(ctx context.Context, d *keyStoreDoc, secret []byte) string {
	c, err := s.newXKSClient(d, secret)
	if err != nil {
		return "XKS_PROXY_INVALID_CONFIGURATION"
	}
	if _, err := c.Health(ctx, xksMetadata(ctx, "ConnectCustomKeyStore", "")); err != nil {
		var xe *xks.Error
		switch {
		case errors.As(err, &xe) && xe.Name == xks.ErrNameAuthenticationFailed:
			return "INVALID_CREDENTIALS"
		case errors.As(err, &xe) && xe.Name == xks.ErrNameAccessDenied:
			return "XKS_PROXY_ACCESS_DENIED"
		case errors.As(err, &xe) && xe.Name == xks.ErrNameInvalidURIPath:
			return "XKS_PROXY_INVALID_CONFIGURATION"
		case errors.Is(err, xks.ErrTimeout):
			return "XKS_PROXY_TIMED_OUT"
		case errors.Is(err, xks.ErrInvalidResponse):
			return "XKS_PROXY_INVALID_RESPONSE"
		}
		return "XKS_PROXY_NOT_REACHABLE"
	}
	return ""
}

// seal seals plaintext with the key's own material inside Trent, then has
// the proxy encrypt that inner body under the external key with the inner
// header plus encryption context as AAD. The outer body is
// len8(iv) | iv | len8(metadata) | metadata | ciphertext | tag.
func (c *xksConn) seal(ctx context.Context, lk *kms.Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	sk := lk.CurrentSealingKey()
	if sk == nil {
		return nil, unavailable(lk)
	}
	inner, err := sk.Seal(c.s.kms.Rand(), plaintext, ec)
	if err != nil {
		return nil, err
	}
	hdr := inner[:ciphertext.HeaderSize:ciphertext.HeaderSize]
	aad := ciphertext.AppendContext(append([]byte(nil), hdr...), ec)
	out, err := c.client.Encrypt(ctx, lk.Doc().XksKeyID, xksMetadata(ctx, "Encrypt", lk.ARN()), inner[ciphertext.HeaderSize:], aad)
	if err != nil {
		return nil, xks.ToAWS(err, xks.CallerCrypto)
	}
	blob := make([]byte, 0, len(hdr)+2+len(out.IV)+len(out.CiphertextMetadata)+len(out.Ciphertext)+len(out.Tag))
	blob = append(blob, hdr...)
	blob = append(blob, byte(len(out.IV)))
	blob = append(blob, out.IV...)
	blob = append(blob, byte(len(out.CiphertextMetadata)))
	blob = append(blob, out.CiphertextMetadata...)
	blob = append(blob, out.Ciphertext...)
	return append(blob, out.Tag...), nil
}

func (c *xksConn) open(ctx context.Context, lk *kms.Key, b *ciphertext.Blob, ec map[string]string, hdr, aad []byte) ([]byte, string, error) {
	ck := lk.SealingKey(b.MaterialID)
	if ck == nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	body := b.Body
	var in xks.EncryptOutput
	if len(body) < 1 || len(body) < 1+int(body[0])+1 {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	in.IV, body = body[1:1+int(body[0])], body[1+int(body[0]):]
	if len(body) < 1+int(body[0])+xksTagSize {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	in.CiphertextMetadata, body = body[1:1+int(body[0])], body[1+int(body[0]):]
	in.Ciphertext, in.Tag = body[:len(body)-xksTagSize], body[len(body)-xksTagSize:]
	innerBody, err := c.client.Decrypt(ctx, lk.Doc().XksKeyID, xksMetadata(ctx, "Decrypt", lk.ARN()), &in, aad)
	if err != nil {
		return nil, "", xks.ToAWS(err, xks.CallerCrypto)
	}
	inner, err := ciphertext.Parse(append(append(make([]byte, 0, len(hdr)+len(innerBody)), hdr...), innerBody...))
	if err != nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	pt, err := ck.Open(inner, ec)
	if err != nil {
		return nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	return pt, ciphertext.MaterialIDString(b.MaterialID), nil
}

// createKey checks that the external key exists, is an enabled AES_256 key
// that can encrypt and decrypt, and backs no other key of the store, and
// gives the new key Trent's own material (the inner layer of the double
// encryption).
func (c *xksConn) createKey(ctx context.Context, d *kms.KeyDoc, ks *keyStoreDoc, in *wire.CreateKeyInput) error {
	if in.XksKeyID == nil {
		return awserr.New(awserr.Validation, "You must specify an XksKeyId when Origin is EXTERNAL_KEY_STORE.")
	}
	md, err := c.client.GetKeyMetadata(ctx, *in.XksKeyID, xksMetadata(ctx, "CreateKey", ""))
	if err != nil {
		return xks.ToAWS(err, xks.CallerCreateKey)
	}
	usage := map[string]bool{}
	for _, u := range md.KeyUsage {
		usage[u] = true
	}
	if md.KeySpec != "AES_256" || !usage["ENCRYPT"] || !usage["DECRYPT"] || md.KeyStatus != "ENABLED" {
		return awserr.Newf(awserr.XksKeyInvalidConfiguration, "The external key %s must be an enabled AES_256 key that can encrypt and decrypt.", *in.XksKeyID)
	}
	ids, err := c.s.kms.CustomKeyStoreKeys(ctx, ks.Account, ks.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if k, err := c.s.kms.GetKey(ctx, id); err == nil && k != nil && k.Doc().XksKeyID == *in.XksKeyID {
			return awserr.Newf(awserr.XksKeyAlreadyInUse, "The external key %s is already associated with KMS key %s in this custom key store.", *in.XksKeyID, id)
		}
	}
	if err := c.s.kms.NewKeyMaterial(d); err != nil {
		return err
	}
	d.XksKeyID = *in.XksKeyID
	return nil
}
