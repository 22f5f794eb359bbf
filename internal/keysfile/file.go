package keysfile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/kms"
	"go.yaml.in/yaml/v3"
)

// File is a keys file. It is parsed strictly: unknown fields are errors.
type File struct {
	Keys []Key `yaml:"keys"`
}

// Key is one declared key.
type Key struct {
	// ID is the key ID: a UUID, or mrk- and 32 hex digits for a
	// multi-Region key (MultiRegion must then be set).
	ID string `yaml:"id"`
	// Account owns the key (default: the administrator's account).
	Account     string  `yaml:"account"`
	KeySpec     string  `yaml:"key_spec"`  // default SYMMETRIC_DEFAULT
	KeyUsage    string  `yaml:"key_usage"` // default ENCRYPT_DECRYPT for symmetric keys
	Origin      string  `yaml:"origin"`    // AWS_KMS (default) or EXTERNAL
	MultiRegion bool    `yaml:"multi_region"`
	Description *string `yaml:"description"`
	// Policy is the key policy, as a JSON string or a YAML mapping;
	// PolicyFile names a file holding it. At most one; neither keeps the
	// default key policy at creation and the key's policy afterwards.
	Policy     iam.PolicyText `yaml:"policy"`
	PolicyFile string         `yaml:"policy_file"`
	// Tags, when set, are the key's tags (all of them).
	Tags map[string]string `yaml:"tags"`
	// Aliases, when set, are the key's aliases (all of them).
	Aliases []string `yaml:"aliases"`
	// Rotation, when set, is the automatic rotation of the key.
	Rotation *Rotation `yaml:"rotation"`
	// Enabled, when set, is whether the key is enabled.
	Enabled *bool `yaml:"enabled"`
	// MaterialFile holds the key material of an EXTERNAL key, as the bytes
	// ImportKeyMaterial would unwrap: 32 bytes for SYMMETRIC_DEFAULT, the
	// raw key for HMAC keys, a DER PKCS#8 private key for asymmetric keys.
	// Only its owner may read it.
	MaterialFile string `yaml:"material_file"`
	// ValidTo, when set, makes the material expire then
	// (KEY_MATERIAL_EXPIRES); otherwise it does not expire.
	ValidTo *time.Time `yaml:"valid_to"`
}

// Rotation is a key's automatic rotation.
type Rotation struct {
	Enabled bool `yaml:"enabled"`
	// PeriodDays is the rotation period (90 to 2560; default 365).
	PeriodDays int64 `yaml:"period_days"`
}

// Parse parses a keys file strictly and checks what can be checked without
// the store. account is the default account.
func Parse(data []byte, account string) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	ids := map[string]bool{}
	aliases := map[string]string{}
	for i := range f.Keys {
		k := &f.Keys[i]
		if k.Account == "" {
			k.Account = account
		}
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("keys file: key %q: %w", k.ID, err)
		}
		if ids[k.ID] {
			return nil, fmt.Errorf("keys file: key %q is declared twice", k.ID)
		}
		ids[k.ID] = true
		for _, a := range k.Aliases {
			at := k.Account + "/" + a
			if other, ok := aliases[at]; ok {
				return nil, fmt.Errorf("keys file: alias %s is declared for keys %q and %q", a, other, k.ID)
			}
			aliases[at] = k.ID
		}
	}
	return &f, nil
}

func (k *Key) check() error {
	if !kms.ValidKeyID(k.ID) || strings.ToLower(k.ID) != k.ID {
		return fmt.Errorf("the key ID must be a UUID in lower case (1234abcd-12ab-34cd-56ef-1234567890ab), or mrk- and 32 lower-case hex digits for a multi-Region key")
	}
	if strings.HasPrefix(k.ID, "mrk-") != k.MultiRegion {
		return fmt.Errorf("a multi-Region key (multi_region: true) has an ID mrk- and 32 hex digits, and only it")
	}
	if !arn.ValidAccountID(k.Account) {
		return fmt.Errorf("account %q must be 12 digits (quote it in YAML)", k.Account)
	}
	if k.KeySpec == "" {
		k.KeySpec = kms.SymmetricDefault
	}
	if k.KeyUsage == "" && k.KeySpec == kms.SymmetricDefault {
		k.KeyUsage = "ENCRYPT_DECRYPT"
	}
	if k.KeyUsage == "" {
		return fmt.Errorf("key_usage is required for key spec %s", k.KeySpec)
	}
	switch k.Origin {
	case "":
		k.Origin = "AWS_KMS"
	case "AWS_KMS", "EXTERNAL":
	default:
		return fmt.Errorf("origin %q: want AWS_KMS or EXTERNAL", k.Origin)
	}
	if (k.Origin == "EXTERNAL") != (k.MaterialFile != "") {
		return fmt.Errorf("material_file goes with origin EXTERNAL, and origin EXTERNAL needs it")
	}
	if k.ValidTo != nil && k.MaterialFile == "" {
		return fmt.Errorf("valid_to goes with material_file")
	}
	if k.Policy != "" && k.PolicyFile != "" {
		return fmt.Errorf("set policy or policy_file, not both")
	}
	for _, a := range k.Aliases {
		if !strings.HasPrefix(a, "alias/") || strings.HasPrefix(strings.ToLower(a), "alias/aws/") {
			return fmt.Errorf("alias %q: an alias name starts with alias/ and not with alias/aws/", a)
		}
	}
	if r := k.Rotation; r != nil && r.Enabled && r.PeriodDays == 0 {
		r.PeriodDays = 365
	}
	return nil
}

// policy returns the declared policy text ("" if none).
func (k *Key) policy() (string, error) {
	if k.PolicyFile == "" {
		return string(k.Policy), nil
	}
	b, err := os.ReadFile(k.PolicyFile)
	if err != nil {
		return "", fmt.Errorf("policy_file: %w", err)
	}
	return string(b), nil
}

// material reads the key material file, which only its owner may read. The
// error never holds the material.
func (k *Key) material() ([]byte, error) {
	fi, err := os.Stat(k.MaterialFile)
	if err != nil {
		return nil, fmt.Errorf("material_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("material_file %s can be read by other users than its owner (mode %s): chmod 600 it", k.MaterialFile, fi.Mode().Perm())
	}
	if !fi.Mode().IsRegular() || fi.Size() > 16<<10 {
		return nil, fmt.Errorf("material_file %s: not a regular file of at most 16 KiB", k.MaterialFile)
	}
	b, err := os.ReadFile(k.MaterialFile)
	if err != nil {
		return nil, fmt.Errorf("material_file: %w", err)
	}
	return b, nil
}
