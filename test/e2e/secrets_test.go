package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	_ "modernc.org/sqlite"

	"github.com/trentkms/trent/internal/config"
	kmsd "github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/wire"
)

// secret is a value that must never be stored in the clear.
type secret struct {
	what  string
	value []byte
}

// encodings returns the forms a stored secret could take.
func encodings(b []byte) map[string][]byte {
	return map[string][]byte{
		"raw":       b,
		"base64":    []byte(base64.StdEncoding.EncodeToString(b)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(b)),
		"hex":       []byte(hex.EncodeToString(b)),
	}
}

// scanDir reads every file under dir (database, WAL, audit trail, key
// files) and fails for any secret found in any encoding, except in the
// files allowed for it.
func scanDir(t *testing.T, dir string, secrets []secret, allowed map[string]string) int {
	t.Helper()
	return eachFile(t, dir, func(path string, data []byte) {
		rel, _ := filepath.Rel(dir, path)
		for _, s := range secrets {
			if allowed[s.what] == rel {
				continue
			}
			for enc, v := range encodings(s.value) {
				if len(v) > 0 && bytes.Contains(data, v) {
					t.Errorf("%s (%s) found in the clear in %s", s.what, enc, rel)
				}
			}
		}
	})
}

// eachFile calls fn with the path and contents of every regular file under
// dir and returns how many there were.
func eachFile(t testing.TB, dir string, fn func(path string, data []byte)) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		fn(path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// scanDB opens the SQLite database directly and looks for the secrets in
// every cell of every table, decoded or not.
func scanDB(t *testing.T, path string, secrets []secret) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	cells := 0
	for _, tbl := range tables {
		rs, err := db.Query(`SELECT * FROM "` + tbl + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rs.Next() {
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					continue
				}
				cells++
				for _, s := range secrets {
					for enc, e := range encodings(s.value) {
						if bytes.Contains(b, e) {
							t.Errorf("%s (%s) in table %s column %s", s.what, enc, tbl, cols[i])
						}
					}
				}
			}
		}
		rs.Close()
	}
	return cells
}

// TestDataDirHoldsNoSecrets uses a node the way a client would, then reads
// its data directory: no plaintext, data key or secret access key may be in
// any file, and with another root key the database is useless.
func TestDataDirHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data") // created by Trent itself
	n := startNode(t, dir, node.Options{})
	c := newClient(n.Endpoint)
	secrets := []secret{{"admin secret access key", []byte(adminSecret)}}
	type sealed struct {
		blob []byte
		ctx  map[string]string
	}
	var blobs []sealed
	for i := range 4 {
		m := createKey(t, c, &kms.CreateKeyInput{Description: aws.String(fmt.Sprint("secret test ", i))})
		pt := randBytes(t, 32+i*100)
		ctx := map[string]string{"n": fmt.Sprint(i)}
		enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: pt, EncryptionContext: ctx})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret{fmt.Sprint("plaintext ", i), pt})
		blobs = append(blobs, sealed{enc.CiphertextBlob, ctx})
		dk, err := c.GenerateDataKey(ctxT(t), &kms.GenerateDataKeyInput{KeyId: m.Arn, KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret{fmt.Sprint("data key ", i), dk.Plaintext})
		blobs = append(blobs, sealed{dk.CiphertextBlob, ctx})
		// Decrypt returns the data key once more; that must not store it either.
		if _, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ctx}); err != nil {
			t.Fatal(err)
		}
		rnd, err := c.GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret{fmt.Sprint("random ", i), rnd.Plaintext})
	}

	t.Run("ok/no secret in any file while running", func(t *testing.T) {
		if files := scanDir(t, dir, secrets, nil); files < 3 {
			t.Fatalf("scanned only %d files", files)
		}
	})
	stopNode(t, n)
	t.Run("ok/no secret in any file or database cell after shutdown", func(t *testing.T) {
		if files := scanDir(t, dir, secrets, nil); files < 3 {
			t.Fatalf("scanned only %d files", files)
		}
		if cells := scanDB(t, filepath.Join(dir, "trent.db"), secrets); cells == 0 {
			t.Fatal("no database cells scanned")
		}
	})
	t.Run("ok/key files are private", func(t *testing.T) {
		// The database holds only sealed material, and it sits in a 0700
		// directory; the files that unseal things must be 0600 themselves.
		// The root key file is outside the data directory (docs/threat-model.md).
		for f, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "audit-signing.key"): 0o600, config.DefaultRootKeyFile(): 0o600} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a root key file is in the data directory: %v", err)
		}
	})

	t.Run("fail/another root key cannot use the database", func(t *testing.T) {
		other := t.TempDir()
		for _, f := range []string{"trent.db", "trent.db-wal", "trent.db-shm"} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(other, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		n2, err := newNode(other, node.Options{Env: config.Env{RootKey: randHex(32)}})
		if err != nil {
			t.Logf("Start with another root key fails: %v", err)
			if strings.Contains(err.Error(), adminSecret) {
				t.Fatal("the start error contains the secret access key")
			}
			return
		}
		t.Cleanup(func() { stopNode(t, n2) })
		t.Log("Start with another root key succeeds; every Decrypt must fail")
		c2 := newClient(n2.Endpoint)
		// Through the API: authentication itself needs the sealed secret.
		for _, b := range blobs {
			if out, err := c2.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: b.blob, EncryptionContext: b.ctx}); err == nil {
				t.Fatalf("Decrypt under another root key succeeded (%d bytes)", len(out.Plaintext))
			} else {
				t.Logf("Decrypt through the API: %v", err)
			}
		}
		// Below the API, as the account's root: the key material itself
		// cannot be unsealed.
		ctx := kmsd.WithCaller(context.Background(), &kmsd.Caller{Account: account, ARN: "arn:aws:iam::" + account + ":root", Type: "Root"})
		for _, b := range blobs {
			out, err := n2.Service.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: b.blob, EncryptionContext: b.ctx})
			if err == nil {
				t.Fatalf("Service.Decrypt under another root key succeeded (%d bytes)", len(out.Plaintext))
			} else {
				t.Logf("Service.Decrypt: %v", err)
			}
		}
	})

	t.Run("ok/generated credential only in its 0600 file", func(t *testing.T) {
		gdir := t.TempDir()
		g, err := node.Start(configFor(gdir), node.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Outside the data directory: a copy of it must not carry a working
		// administrator credential (docs/threat-model.md).
		if filepath.Dir(g.AdminCredentialsFile) != config.ConfigDir() || !strings.HasPrefix(filepath.Base(g.AdminCredentialsFile), "admin-credentials") {
			t.Fatalf("AdminCredentialsFile = %q, want admin-credentials in %s", g.AdminCredentialsFile, config.ConfigDir())
		}
		fi, err := os.Stat(g.AdminCredentialsFile)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("credentials file mode %v, %v; want 0600", fi.Mode().Perm(), err)
		}
		data, _ := os.ReadFile(g.AdminCredentialsFile)
		var akid, sec string
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, " = "); ok {
				switch strings.TrimSpace(k) {
				case "aws_access_key_id":
					akid = strings.TrimSpace(v)
				case "aws_secret_access_key":
					sec = strings.TrimSpace(v)
				}
			}
		}
		if akid != g.AdminAccessKeyID || len(sec) < 16 {
			t.Fatalf("credentials file: access key %q (want %q), secret of %d characters", akid, g.AdminAccessKeyID, len(sec))
		}
		gc := newClient(g.Endpoint, withCredentials(akid, sec))
		if _, err := gc.CreateKey(ctxT(t), &kms.CreateKeyInput{}); err != nil {
			t.Fatalf("CreateKey with the generated credential: %v", err)
		}
		_, err = newClient(g.Endpoint, withCredentials(akid, sec[:len(sec)-1]+"x")).ListKeys(ctxT(t), &kms.ListKeysInput{})
		wantAPIError(t, err, "InvalidSignatureException", msgSignatureMismatch)
		stopNode(t, g)
		scanDir(t, gdir, []secret{{"generated secret", []byte(sec)}}, nil)
	})
}
