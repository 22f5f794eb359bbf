package keysfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const id = "11111111-2222-4333-8444-555555555555"
	for _, c := range []struct{ name, yaml, err string }{
		{"ok/defaults", "keys:\n  - id: " + id + "\n", ""},
		{"ok/mrk", "keys:\n  - id: mrk-0123456789abcdef0123456789abcdef\n    multi_region: true\n", ""},
		{"fail/unknown field", "keys:\n  - id: " + id + "\n    colour: red\n", "field colour not found"},
		{"fail/upper-case id", "keys:\n  - id: ABCDEF12-2222-4333-8444-555555555555\n", "must be a UUID"},
		{"fail/mrk without multi_region", "keys:\n  - id: mrk-0123456789abcdef0123456789abcdef\n", "multi-Region"},
		{"fail/multi_region with UUID", "keys:\n  - id: " + id + "\n    multi_region: true\n", "multi-Region"},
		{"fail/account", "keys:\n  - id: " + id + "\n    account: 12\n", "12 digits"},
		{"fail/usage required", "keys:\n  - id: " + id + "\n    key_spec: RSA_2048\n", "key_usage is required"},
		{"fail/origin", "keys:\n  - id: " + id + "\n    origin: AWS_CLOUDHSM\n", "want AWS_KMS or EXTERNAL"},
		{"fail/external without material", "keys:\n  - id: " + id + "\n    origin: EXTERNAL\n", "material_file"},
		{"fail/material without external", "keys:\n  - id: " + id + "\n    material_file: x\n", "material_file"},
		{"fail/policy twice", "keys:\n  - id: " + id + "\n    policy: '{}'\n    policy_file: p.json\n", "not both"},
		{"fail/aws alias", "keys:\n  - id: " + id + "\n    aliases: [alias/aws/s3]\n", "alias/aws/"},
		{"fail/duplicate id", "keys:\n  - id: " + id + "\n  - id: " + id + "\n", "declared twice"},
		{"fail/alias twice", "keys:\n  - id: " + id + "\n    aliases: [alias/a]\n  - id: 21111111-2222-4333-8444-555555555555\n    aliases: [alias/a]\n", "declared for keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse([]byte(c.yaml), "111122223333")
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				k := f.Keys[0]
				if k.Account != "111122223333" || k.KeySpec != "SYMMETRIC_DEFAULT" || k.KeyUsage != "ENCRYPT_DECRYPT" || k.Origin != "AWS_KMS" {
					t.Errorf("defaults: %+v", k)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

// TestMaterialFile: the material is read only from a file its owner alone
// may read, and an error never holds it.
func TestMaterialFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m")
	secret := []byte("0123456789abcdef0123456789abcdef")
	os.WriteFile(p, secret, 0o640)
	k := &Key{MaterialFile: p}
	if _, err := k.material(); err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), string(secret)) {
		t.Fatalf("group-readable material file: %v", err)
	}
	os.Chmod(p, 0o600)
	if m, err := k.material(); err != nil || string(m) != string(secret) {
		t.Fatalf("owner-only material file: %v", err)
	}
}
