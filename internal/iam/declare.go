package iam

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
	"gopkg.in/yaml.v3"
)

// Principals is the declarative principals file (trent serve --principals):
// accounts with their users, roles, inline policies and access keys. It is
// parsed strictly: unknown fields are errors. Secrets never appear in it;
// access keys name an environment variable or a file holding the secret.
type Principals struct {
	Accounts []DeclaredAccount `yaml:"accounts"`
}

// DeclaredAccount is one account of a principals file.
type DeclaredAccount struct {
	ID             string         `yaml:"id"`
	Name           string         `yaml:"name"`
	RootAccessKeys []DeclaredKey  `yaml:"root_access_keys"`
	Users          []DeclaredUser `yaml:"users"`
	Roles          []DeclaredRole `yaml:"roles"`
}

// DeclaredUser is an IAM user of a principals file.
type DeclaredUser struct {
	Name       string                `yaml:"name"`
	Path       string                `yaml:"path"`
	Policies   map[string]PolicyText `yaml:"policies"`
	AccessKeys []DeclaredKey         `yaml:"access_keys"`
}

// DeclaredRole is an IAM role of a principals file.
type DeclaredRole struct {
	Name               string                `yaml:"name"`
	Path               string                `yaml:"path"`
	Description        string                `yaml:"description"`
	TrustPolicy        PolicyText            `yaml:"trust_policy"`
	MaxSessionDuration int                   `yaml:"max_session_duration"`
	Policies           map[string]PolicyText `yaml:"policies"`
}

// DeclaredKey is an access key whose secret comes from the environment
// variable SecretEnv or the file SecretFile (exactly one of them).
type DeclaredKey struct {
	ID         string `yaml:"id"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
}

// PolicyText is a policy document written either as a JSON string or as a
// YAML mapping (converted to JSON).
type PolicyText string

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *PolicyText) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = PolicyText(n.Value)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: policy cannot be converted to JSON: %w", n.Line, err)
	}
	*p = PolicyText(b)
	return nil
}

// ParsePrincipals parses a principals file strictly.
func ParsePrincipals(data []byte) (*Principals, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Principals
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("principals: %w", err)
	}
	for _, a := range p.Accounts {
		if !ValidAccountID(a.ID) {
			return nil, fmt.Errorf("principals: account ID %q must be 12 digits (quote it in YAML)", a.ID)
		}
		for _, k := range append(append([]DeclaredKey{}, a.RootAccessKeys...), usersKeys(a.Users)...) {
			if (k.SecretEnv == "") == (k.SecretFile == "") {
				return nil, fmt.Errorf("principals: access key %s: set exactly one of secret_env, secret_file", k.ID)
			}
			if len(k.ID) < 16 || len(k.ID) > 128 || strings.ContainsAny(k.ID, "/ =,") {
				return nil, fmt.Errorf("principals: access key ID %q must be 16-128 characters without '/', ' ', '=' or ','", k.ID)
			}
		}
	}
	return &p, nil
}

func usersKeys(us []DeclaredUser) []DeclaredKey {
	var out []DeclaredKey
	for _, u := range us {
		out = append(out, u.AccessKeys...)
	}
	return out
}

// LoadPrincipals reads, parses and applies a principals file; getenv
// resolves secret_env names (os.Getenv in production).
func (d *Directory) LoadPrincipals(ctx context.Context, path string, getenv func(string) string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("principals: %w", err)
	}
	p, err := ParsePrincipals(data)
	if err != nil {
		return err
	}
	return d.ApplyPrincipals(ctx, p, getenv)
}

// ApplyPrincipals makes the directory contain everything p declares. It is
// idempotent: missing accounts, users, roles, policies and keys are
// created; declared policies, trust policies and key secrets that differ
// are replaced. It never deletes: a principal or policy removed from the
// file stays until it is deleted through the IAM API. Users of every
// account are applied before roles, and a role whose trust policy names a
// role declared after it is retried once that role exists, since a trust
// policy may only name principals that exist. Errors name the principal
// but never contain a secret.
func (d *Directory) ApplyPrincipals(ctx context.Context, p *Principals, getenv func(string) string) error {
	for _, a := range p.Accounts {
		if _, err := d.EnsureAccount(ctx, a.ID, a.Name); err != nil {
			return fmt.Errorf("principals: account %s: %w", a.ID, err)
		}
		for _, k := range a.RootAccessKeys {
			if err := d.declareKey(ctx, a.ID, "", k, getenv); err != nil {
				return err
			}
		}
		for _, u := range a.Users {
			if err := d.declareUser(ctx, a.ID, u, getenv); err != nil {
				return err
			}
		}
	}
	type pending struct {
		account string
		role    DeclaredRole
	}
	var todo []pending
	for _, a := range p.Accounts {
		for _, r := range a.Roles {
			todo = append(todo, pending{a.ID, r})
		}
	}
	for len(todo) > 0 {
		var later []pending
		var lastErr error
		for _, x := range todo {
			retry, err := d.declareRole(ctx, x.account, x.role)
			if retry {
				later, lastErr = append(later, x), err
				continue
			}
			if err != nil {
				return err
			}
		}
		if len(later) == len(todo) {
			return lastErr
		}
		todo = later
	}
	return nil
}

func (d *Directory) declareUser(ctx context.Context, account string, u DeclaredUser, getenv func(string) string) error {
	if _, err := d.GetUser(ctx, account, u.Name); err != nil {
		if _, err := d.CreateUser(ctx, account, u.Name, u.Path); err != nil {
			return fmt.Errorf("principals: user %s/%s: %w", account, u.Name, err)
		}
	}
	for name, doc := range u.Policies {
		if cur, err := d.GetUserPolicy(ctx, account, u.Name, name); err == nil && cur == string(doc) {
			continue
		}
		if err := d.PutUserPolicy(ctx, account, u.Name, name, string(doc)); err != nil {
			return fmt.Errorf("principals: user %s/%s policy %s: %w", account, u.Name, name, err)
		}
	}
	for _, k := range u.AccessKeys {
		if err := d.declareKey(ctx, account, u.Name, k, getenv); err != nil {
			return err
		}
	}
	return nil
}

// declareRole applies one declared role. retry reports that its trust
// policy names a principal that does not exist (yet).
func (d *Directory) declareRole(ctx context.Context, account string, r DeclaredRole) (retry bool, err error) {
	cur, err := d.GetRole(ctx, account, r.Name)
	if err != nil {
		_, err = d.CreateRole(ctx, RoleInput{Account: account, Name: r.Name, Path: r.Path, Description: r.Description,
			TrustPolicy: string(r.TrustPolicy), MaxSessionDuration: r.MaxSessionDuration})
	} else if cur.TrustPolicy != string(r.TrustPolicy) {
		err = d.UpdateTrustPolicy(ctx, account, r.Name, string(r.TrustPolicy))
	}
	if err != nil {
		e := awserr.As(err)
		retry = e != nil && e.Code == CodeMalformedPolicyDocument && strings.HasPrefix(e.Message, "Invalid principal")
		return retry, fmt.Errorf("principals: role %s/%s: %w", account, r.Name, err)
	}
	for name, doc := range r.Policies {
		if cur, err := d.GetRolePolicy(ctx, account, r.Name, name); err == nil && cur == string(doc) {
			continue
		}
		if err := d.PutRolePolicy(ctx, account, r.Name, name, string(doc)); err != nil {
			return false, fmt.Errorf("principals: role %s/%s policy %s: %w", account, r.Name, name, err)
		}
	}
	return false, nil
}

// declareKey makes access key k of user (or of the root when user is "")
// exist with its declared secret.
func (d *Directory) declareKey(ctx context.Context, account, user string, k DeclaredKey, getenv func(string) string) error {
	var secret string
	switch {
	case k.SecretEnv != "":
		secret = getenv(k.SecretEnv)
		if secret == "" {
			return fmt.Errorf("principals: access key %s: environment variable %s is empty", k.ID, k.SecretEnv)
		}
	default:
		b, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return fmt.Errorf("principals: access key %s: %w", k.ID, err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if len(secret) < 16 {
		return fmt.Errorf("principals: access key %s: the secret must be at least 16 characters", k.ID)
	}
	typ := TypeRoot
	if user != "" {
		typ = TypeIAMUser
	}
	id, _, err := d.load(ctx, k.ID)
	switch {
	case err == nil:
		if id.doc.Account != account || id.doc.Type != typ || id.doc.UserName != user {
			return fmt.Errorf("principals: access key %s belongs to another principal", k.ID)
		}
		if subtle.ConstantTimeCompare(id.secret, []byte(secret)) == 1 {
			return nil
		}
		// The secret was rotated in the environment: replace the key.
		if err := d.DeleteAccessKey(ctx, account, user, k.ID); err != nil {
			return fmt.Errorf("principals: access key %s: %w", k.ID, err)
		}
	case !isNotFound(err):
		return fmt.Errorf("principals: access key %s: %w", k.ID, err)
	}
	ak := AccessKey{ID: k.ID, Secret: secret, Account: account, Type: typ, UserName: user}
	if user != "" {
		u, ver, err := d.getUser(ctx, account, user)
		if err != nil {
			return err
		}
		ak.PrincipalID, ak.UserPath = u.UserID, u.Path
		err = d.createAccessKey(ctx, ak, touchOp(KindUser, account+"/"+user, u, ver))
		if err != nil {
			return fmt.Errorf("principals: access key %s: %w", k.ID, err)
		}
		return nil
	}
	if err := d.CreateAccessKey(ctx, ak); err != nil {
		return fmt.Errorf("principals: access key %s: %w", k.ID, err)
	}
	return nil
}

func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound)
}
