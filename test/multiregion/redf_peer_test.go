package multiregion

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/replica"
)

// redfPeer is a peer deployment simulated by the test: its keys are the
// test's, so it can send authentic messages of any content (a peer whose
// signing key an attacker holds).
type redfPeer struct {
	region string
	sign   ed25519.PrivateKey
	kem    *age.HybridIdentity
}

func newRedfPeer(t *testing.T, region string) *redfPeer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kem, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return &redfPeer{region: region, sign: priv, kem: kem}
}

// as returns a deployment value whose peers: entry is this peer's, for
// deployment.configure (it is never started).
func (p *redfPeer) as() *deployment {
	pub := p.sign.Public().(ed25519.PublicKey)
	return &deployment{region: p.region, pub: "- region: " + p.region + "\n  endpoint: https://HOST:PORT\n  kem_public_key: " +
		p.kem.Recipient().String() + "\n  signing_public_key: ed25519:" + base64.StdEncoding.EncodeToString(pub)}
}

// kemOf returns d's replication recipient, from its replication-identity.
func kemOf(t *testing.T, d *deployment) *age.HybridRecipient {
	t.Helper()
	for _, l := range strings.Split(d.pub, "\n") {
		if _, v, ok := strings.Cut(l, "kem_public_key: "); ok {
			r, err := age.ParseHybridRecipient(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatal("no kem_public_key in " + d.pub)
	return nil
}

func redfNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// wrapFor age-encrypts material to d bound to key and material IDs, as a
// primary does.
func wrapFor(t *testing.T, r age.Recipient, keyID, mid string, material []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("trent mrk material v1\x00" + keyID + "\x00" + mid + "\x00"))
	w.Write(material)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// message returns a fresh message from p to d about key id.
func (p *redfPeer) message(to *deployment, id string) *replica.Message {
	return &replica.Message{V: replica.Version, From: p.region, To: to.region, Time: time.Now().UTC(), Nonce: redfNonce(),
		KeyID: id, Account: account}
}

// send signs msg with p's key and posts it to d: the HTTP status, and the
// answer's Error ("" when applied), or the error body when refused.
func (p *redfPeer) send(t *testing.T, d *deployment, msg *replica.Message) (int, string) {
	t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return p.post(t, d, body)
}

func (p *redfPeer) post(t *testing.T, d *deployment, body []byte) (int, string) {
	t.Helper()
	sig := ed25519.Sign(p.sign, append([]byte("trent replication message v1\x00"), body...))
	req, _ := http.NewRequest(http.MethodPost, d.endpoint()+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "MultiRegionReplication_v1.Deliver")
	req.Header.Set("X-Trent-Replication-From", p.region)
	req.Header.Set("X-Trent-Replication-Signature", base64.StdEncoding.EncodeToString(sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, string(b)
	}
	var a replica.Answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %s", b)
	}
	return 200, a.Error
}

// symShared is the shared state of a symmetric multi-Region key whose
// primary is p, with one replica in d, and its current material mid.
func (p *redfPeer) symShared(d *deployment, id, mid string, epoch int64) *kms.Shared {
	return &kms.Shared{ID: id, Account: account, Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", Origin: "AWS_KMS",
		CurrentMaterial: mid, Materials: []kms.SharedMaterial{{ID: mid, State: "CURRENT"}},
		PrimaryRegion: p.region, ReplicaRegions: []string{d.region}, Epoch: epoch}
}

// createReplica has p, as the primary, create in d a symmetric replica
// of a new key with random material; it returns the key and material IDs.
func (p *redfPeer) createReplica(t *testing.T, d *deployment) (id, mid string) {
	t.Helper()
	mat := make([]byte, 32)
	rand.Read(mat)
	id, mid = redfKeyID(), kms.NewHexID()
	msg := p.message(d, id)
	msg.Shared = p.symShared(d, id, mid, 1)
	msg.Materials = map[string][]byte{mid: wrapFor(t, kemOf(t, d), id, mid, mat)}
	msg.Create = &replica.CreateParams{}
	if code, ans := p.send(t, d, msg); code != 200 || ans != "" {
		t.Fatalf("create: %d %q", code, ans)
	}
	return id, mid
}

func redfKeyID() string { return "mrk-" + randHex(16) }
