package security

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A copy of the data directory alone yields nothing (issue 16, item 6): the
// root key lives outside it, a copy served or administered without the key
// is refused, and STS session tokens are stored only as hashes.

// atrestForms returns the forms in which a secret could be stored.
func atrestForms(b []byte) map[string][]byte {
	forms := map[string][]byte{
		"raw":       b,
		"base64":    []byte(base64.StdEncoding.EncodeToString(b)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(b)),
		"hex":       []byte(hex.EncodeToString(b)),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString(b))),
	}
	if len(b) >= 64 {
		// A stretch from the middle survives escaping and line breaks at
		// the ends.
		forms["raw middle"] = b[len(b)/2-16 : len(b)/2+16]
	}
	return forms
}

// atrestScan reads every file under dir and returns where any form of
// secret occurs, and how many files it read.
func atrestScan(t testing.TB, dir string, secret []byte) (found []string, files int) {
	t.Helper()
	forms := atrestForms(secret)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, f := range forms {
			if bytes.Contains(data, f) {
				rel, _ := filepath.Rel(dir, path)
				found = append(found, name+" in "+rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, files
}

// atrestCopyDir copies the regular files of src into dst, as a backup or a
// volume snapshot would (without lock files: a copy is not the holder).
func atrestCopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// atrestKeyFile reads a root key file and returns its keys' bytes.
func atrestKeyFile(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		_, h, ok := strings.Cut(line, ":")
		k, err := hex.DecodeString(h)
		if !ok || err != nil || len(k) != 32 {
			t.Fatalf("%s: not a root key file", path)
		}
		keys = append(keys, k)
	}
	return keys
}

// atrestEncrypt encrypts plaintext under a new key and returns the
// ciphertext.
func atrestEncrypt(t testing.TB, s *Server, plaintext []byte) []byte {
	t.Helper()
	id := s.CreateKey(t, Admin, nil)
	r := s.Call(t, Admin, "Encrypt", map[string]any{"KeyId": id, "Plaintext": plaintext})
	if r.Status != http.StatusOK {
		t.Fatalf("Encrypt: %d %s", r.Status, r.Body)
	}
	var out struct{ CiphertextBlob []byte }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}

func atrestDecrypt(t testing.TB, s *Server, blob []byte) Response {
	t.Helper()
	return s.Call(t, Admin, "Decrypt", map[string]any{"CiphertextBlob": blob})
}

// TestStolenDataDir: a default installation keeps its root key outside the
// data directory, and a copy of the data directory alone cannot be served
// or administered: no process starts on it without the root key that
// sealed it, with no key or with another key, and none mints a new key
// for it.
func TestStolenDataDir(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "data")
	s := Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true})
	id := atrestRootKeyID(t, s)
	plaintext := []byte("the payroll database password")
	blob := atrestEncrypt(t, s, plaintext)
	s.Stop(t)

	keyFile := filepath.Join(home, "trent", "root.key")
	t.Run("ok/default root key outside the data directory", func(t *testing.T) {
		if !strings.Contains(atrestBanner(t, s, `root key:.*`)[0], keyFile) {
			t.Errorf("the banner does not name %s:\n%s", keyFile, s.Output())
		}
		fi, err := os.Stat(keyFile)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file %s: %v %v", keyFile, fi, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("root.key in the data directory: %v", err)
		}
		for _, k := range atrestKeyFile(t, keyFile) {
			found, files := atrestScan(t, dir, k)
			if files < 3 {
				t.Fatalf("scanned only %d files", files)
			}
			if len(found) > 0 {
				t.Errorf("the root key is in the data directory: %v", found)
			}
		}
	})

	stolen := filepath.Join(t.TempDir(), "stolen")
	atrestCopyDir(t, dir, stolen)
	t.Run("fail/copy without the root key", func(t *testing.T) {
		thief := t.TempDir()
		c := Start(t, Opts{DataDir: stolen, ConfigHome: thief, NoRootKeyEnv: true, ExpectFail: true})
		atrestRefused(t, c, "does not exist, but the store was sealed under root key "+id)
		if _, err := os.Stat(filepath.Join(thief, "trent", "root.key")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a new root key was made for a sealed store: %v", err)
		}
		out, err := Trent(t, []string{"XDG_CONFIG_HOME=" + thief, "HOME=" + thief, "TRENT_ROOT_KEY="},
			"admin", "create-access-key", "--data-dir", stolen, "--account-id", account)
		if err == nil || strings.Contains(out, "aws_secret_access_key") || !strings.Contains(out, id) {
			t.Fatalf("admin create-access-key without the root key: %v\n%s", err, out)
		}
	})
	t.Run("fail/copy with another root key", func(t *testing.T) {
		c := Start(t, Opts{DataDir: stolen, ExpectFail: true})
		atrestRefused(t, c, "root key mismatch", "the store needs root key "+id)
		out, err := Trent(t, []string{"TRENT_ROOT_KEY=" + randHex(32)},
			"admin", "create-access-key", "--data-dir", stolen, "--account-id", account)
		if err == nil || strings.Contains(out, "aws_secret_access_key") || !strings.Contains(out, "root key mismatch") {
			t.Fatalf("admin create-access-key with another root key: %v\n%s", err, out)
		}
	})
	t.Run("fail/copy with its own key file inside", func(t *testing.T) {
		// A thief cannot make Trent use a key file planted in the copy
		// without saying so (the unsafe flag), and even then a new key
		// opens nothing.
		fake := filepath.Join(stolen, "root.key")
		c := Start(t, Opts{DataDir: stolen, ConfigHome: t.TempDir(), NoRootKeyEnv: true,
			Args: []string{"--root-key-file", fake}, ExpectFail: true})
		atrestRefused(t, c, "inside the data directory")
		if _, err := os.Stat(fake); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a key file was created in the copy: %v", err)
		}
	})
	t.Run("ok/the owner's key still opens the copy", func(t *testing.T) {
		// The control: the copy is intact; only the key was missing.
		c := Start(t, Opts{DataDir: stolen, ConfigHome: home, NoRootKeyEnv: true})
		r := atrestDecrypt(t, c, blob)
		var out struct{ Plaintext []byte }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil || !bytes.Equal(out.Plaintext, plaintext) {
			t.Fatalf("Decrypt of the copy with its root key: %d %s", r.Status, r.Body)
		}
	})
}

// TestStolenDataDirSessionTokens: STS session tokens are stored as hashes:
// no form of a token is in any file of the data directory, while the
// token still works and a wrong one does not.
func TestStolenDataDirSessionTokens(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+account+`"},"Action":"sts:AssumeRole"}]}`)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "use", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	var sessions []Creds
	for _, name := range []string{"job-1", "job-2"} {
		body := s.MustQuery(t, Admin, "sts", "Action", "AssumeRole", "RoleArn", "arn:aws:iam::"+account+":role/app", "RoleSessionName", name)
		var out struct {
			Result struct {
				Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
			} `xml:"AssumeRoleResult"`
		}
		if err := xml.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		c := out.Result.Credentials
		if len(c.SessionToken) < 64 || c.AccessKeyId == "" || c.SecretAccessKey == "" {
			t.Fatalf("AssumeRole: %s", body)
		}
		sess := Creds{AKID: c.AccessKeyId, Secret: c.SecretAccessKey, Token: c.SessionToken}
		if r := s.Call(t, sess, "ListKeys", nil); r.Status != http.StatusOK {
			t.Fatalf("ListKeys as the session: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
		sessions = append(sessions, sess)
	}
	// The tokens are bound to their sessions: one session's token does not
	// sign for the other, and a token one character off is refused.
	swapped := Creds{AKID: sessions[0].AKID, Secret: sessions[0].Secret, Token: sessions[1].Token}
	tweaked := sessions[0]
	tweaked.Token = tweaked.Token[:len(tweaked.Token)-2] + "AA"
	for _, c := range []Creds{swapped, tweaked, {AKID: sessions[0].AKID, Secret: sessions[0].Secret}} {
		if r := s.Call(t, c, "ListKeys", nil); r.Status != http.StatusBadRequest || r.ErrorType != "UnrecognizedClientException" {
			t.Fatalf("ListKeys with a wrong session token: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
	}

	scan := func(t *testing.T) {
		for i, c := range sessions {
			found, files := atrestScan(t, s.DataDir, []byte(c.Token))
			if files < 3 {
				t.Fatalf("scanned only %d files", files)
			}
			if len(found) > 0 {
				t.Errorf("session token %d in the clear: %v", i, found)
			}
			if found, _ := atrestScan(t, s.DataDir, []byte(c.Secret)); len(found) > 0 {
				t.Errorf("session %d's secret access key in the clear: %v", i, found)
			}
			// The control: the scan does find what is stored in the clear.
			if found, _ := atrestScan(t, s.DataDir, []byte(c.AKID)); len(found) == 0 {
				t.Errorf("the scan does not find the session's access key ID %s", c.AKID)
			}
		}
	}
	t.Run("ok/no token in the clear while running", scan)
	s.Stop(t)
	t.Run("ok/no token in the clear after shutdown", scan)
}

// TestStolenDataDirRootKeyMove: an installation that kept its root key in
// the data directory (as Trent did before) is refused with the command that
// fixes it; `trent root-key move` moves the key out (refused while a server
// runs), and moving it there and back again keeps everything decrypting.
func TestStolenDataDirRootKeyMove(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "root.key")
	env := []string{"XDG_CONFIG_HOME=" + home, "HOME=" + home, "TRENT_ROOT_KEY="}
	// An old installation: the key file in the data directory (the unsafe
	// flag makes Trent create it there, as older versions did).
	s := Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true,
		Args: []string{"--root-key-file", legacy, "--allow-root-key-in-data-dir"}})
	plaintext := []byte("kept across moves")
	blob := atrestEncrypt(t, s, plaintext)
	s.Stop(t)
	if _, err := os.Stat(legacy); err != nil {
		t.Fatal(err)
	}
	keys := atrestKeyFile(t, legacy)

	c := Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true, ExpectFail: true})
	atrestRefused(t, c, "inside its data directory", "trent root-key move --data-dir "+dir)
	c = Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true, Args: []string{"--root-key-file", legacy}, ExpectFail: true})
	atrestRefused(t, c, "inside the data directory", "trent root-key move")

	out, err := Trent(t, env, "root-key", "move", "--data-dir", dir)
	def := filepath.Join(home, "trent", "root.key")
	if err != nil || !strings.Contains(out, def) {
		t.Fatalf("root-key move: %v\n%s", err, out)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old key file is still there: %v", err)
	}
	if got := atrestKeyFile(t, def); len(got) != len(keys) || !bytes.Equal(got[0], keys[0]) {
		t.Fatal("the moved key file holds other keys")
	}
	if found, _ := atrestScan(t, dir, keys[0]); len(found) > 0 {
		t.Fatalf("the root key is still in the data directory: %v", found)
	}

	decrypts := func(t *testing.T, s *Server) {
		t.Helper()
		r := atrestDecrypt(t, s, blob)
		var out struct{ Plaintext []byte }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil || !bytes.Equal(out.Plaintext, plaintext) {
			t.Fatalf("Decrypt: %d %s", r.Status, r.Body)
		}
	}
	s = Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true})
	decrypts(t, s)
	// fail/while serving: the move needs the server stopped.
	elsewhere := filepath.Join(t.TempDir(), "keys", "trent-root.key")
	if out, err := Trent(t, env, "root-key", "move", "--data-dir", dir, "--from", def, "--to", elsewhere); err == nil || !strings.Contains(out, "is in use") {
		t.Fatalf("root-key move while serving: %v\n%s", err, out)
	}
	// fail/into the data directory.
	if out, err := Trent(t, env, "root-key", "move", "--data-dir", dir, "--from", def, "--to", filepath.Join(dir, "k")); err == nil || !strings.Contains(out, "inside the data directory") {
		t.Fatalf("root-key move into the data directory: %v\n%s", err, out)
	}
	s.Stop(t)

	// ok/round trip: elsewhere (named with --root-key-file), then back to
	// the default place.
	if out, err := Trent(t, env, "root-key", "move", "--data-dir", dir, "--from", def, "--to", elsewhere); err != nil || !strings.Contains(out, "--root-key-file "+elsewhere) {
		t.Fatalf("root-key move --to: %v\n%s", err, out)
	}
	s = Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true, Args: []string{"--root-key-file", elsewhere}})
	decrypts(t, s)
	s.Stop(t)
	if out, err := Trent(t, env, "root-key", "move", "--data-dir", dir, "--from", elsewhere); err != nil {
		t.Fatalf("root-key move back: %v\n%s", err, out)
	}
	s = Start(t, Opts{DataDir: dir, ConfigHome: home, NoRootKeyEnv: true})
	decrypts(t, s)
}

// TestStolenDataDirGeneratedCredential: the administrator credential
// generated at first start is written outside the data directory, so a
// copy of the data directory holds no working credential for the live
// server either.
func TestStolenDataDirGeneratedCredential(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	s := Start(t, Opts{ConfigHome: home, NoRootKeyEnv: true, Env: []string{"TRENT_ACCESS_KEY_ID=", "TRENT_SECRET_ACCESS_KEY="}})
	m := atrestBanner(t, s, `secret key:\s+in (\S+) \(mode 0600\)`)
	if filepath.Dir(m[1]) != filepath.Join(home, "trent") {
		t.Fatalf("credential file %s is not in %s", m[1], filepath.Join(home, "trent"))
	}
	data, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	kv := regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\n`).FindStringSubmatch(string(data))
	if kv == nil {
		t.Fatalf("credential file:\n%s", data)
	}
	admin := Creds{AKID: kv[1], Secret: kv[2]}
	if r := s.Call(t, admin, "ListKeys", nil); r.Status != http.StatusOK {
		t.Fatalf("ListKeys with the generated credential: %d %s", r.Status, r.Body)
	}
	s.Stop(t)
	found, files := atrestScan(t, s.DataDir, []byte(admin.Secret))
	if files < 3 || len(found) > 0 {
		t.Fatalf("generated secret in the data directory (%d files scanned): %v", files, found)
	}
}
