package iam_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/store"
)

// TestSessionTokenStoredHashed: the store keeps a session token's SHA-256,
// never the token; a record written by an older Trent (token in the clear)
// still verifies, as its hash.
func TestSessionTokenStoredHashed(t *testing.T) {
	t.Parallel()
	d, st := newDir(t)
	ctx := ctxT(t)
	const tok = "Tr3ntSessionTokenForTheTestOnly+/0123456789abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(tok))
	k := iam.AccessKey{ID: "ASIATESTTESTTEST0001", Secret: "session-secret-0123456789", Account: acct,
		Type: iam.TypeAssumedRole, RoleARN: "arn:aws:iam::" + acct + ":role/r", SessionName: "s", SessionToken: tok,
		Expires: time.Now().Add(time.Hour)}
	if err := d.CreateAccessKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, iam.KindAccessKey, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Data, []byte(tok)) || bytes.Contains(rec.Data, []byte(tok[10:40])) || bytes.Contains(rec.Data, []byte(k.Secret)) {
		t.Fatalf("stored record holds the token or secret: %s", rec.Data)
	}
	sec, err := d.Lookup(ctx, k.ID)
	if err != nil || sec.SessionToken != "" || !bytes.Equal(sec.SessionTokenSHA256, sum[:]) {
		t.Fatalf("Lookup: %+v %v", sec, err)
	}

	// ok/legacy: a record with the token in the clear and no hash.
	var doc map[string]any
	json.Unmarshal(rec.Data, &doc)
	delete(doc, "sessionTokenSha256")
	doc["sessionToken"] = tok
	data, _ := json.Marshal(doc)
	if err := st.Apply(ctx, store.Op{Kind: iam.KindAccessKey, ID: k.ID, Data: data}); err != nil {
		t.Fatal(err)
	}
	d.Invalidate(k.ID)
	sec, err = d.Lookup(ctx, k.ID)
	if err != nil || sec.SessionToken != "" || !bytes.Equal(sec.SessionTokenSHA256, sum[:]) {
		t.Fatalf("Lookup of a legacy record: %+v %v", sec, err)
	}
}
