package iam

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
	"go.yaml.in/yaml/v3"
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
	// Services are the account's service principals (services.go).
	Services []DeclaredService `yaml:"services"`
}

// DeclaredUser is an IAM user of a principals file. Adopt lets the file
// take over a user of this name that it does not own (see
// ApplyPrincipals).
type DeclaredUser struct {
	Name       string                `yaml:"name"`
	Path       string                `yaml:"path"`
	Adopt      bool                  `yaml:"adopt"`
	Policies   map[string]PolicyText `yaml:"policies"`
	AccessKeys []DeclaredKey         `yaml:"access_keys"`
}

// DeclaredRole is an IAM role of a principals file; Adopt is
// DeclaredUser.Adopt for roles.
type DeclaredRole struct {
	Name               string                `yaml:"name"`
	Path               string                `yaml:"path"`
	Adopt              bool                  `yaml:"adopt"`
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
		if !arn.ValidAccountID(a.ID) {
			return nil, fmt.Errorf("principals: account ID %q must be 12 digits (quote it in YAML)", a.ID)
		}
		if err := checkServices(a); err != nil {
			return nil, err
		}
		for _, k := range append(append(append([]DeclaredKey{}, a.RootAccessKeys...), usersKeys(a.Users)...), servicesKeys(a.Services)...) {
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

// Skipped is a declared user, role or access key that ApplyPrincipals did
// not apply, because what exists under its name is not the file's to
// change. The server logs each one as an error and starts all the same.
type Skipped struct {
	Account string
	// Kind is "user", "role" or "access key".
	Kind string
	// Name is the user or role name, or the access key ID.
	Name string
	// Reason says why, and what the operator can do.
	Reason string
}

func (s Skipped) Error() string {
	return fmt.Sprintf("principals: %s %s/%s not applied: %s", s.Kind, s.Account, s.Name, s.Reason)
}

// LoadPrincipals reads, parses and applies a principals file; getenv
// resolves secret_env names (config.Env.Secret in production). It returns
// what ApplyPrincipals returns.
func (d *Directory) LoadPrincipals(ctx context.Context, path string, getenv func(string) string) ([]Skipped, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("principals: %w", err)
	}
	p, err := ParsePrincipals(data)
	if err != nil {
		return nil, err
	}
	return d.ApplyPrincipals(ctx, p, getenv)
}

// ApplyPrincipals makes the directory contain everything p declares. It is
// idempotent: missing accounts, users, roles, policies and keys are
// created; declared policies, trust policies and key secrets that differ
// are replaced. It never deletes, except when it adopts: a principal or
// policy removed from the file stays until it is deleted through the IAM
// API. Users of every account are applied before roles, and a role whose
// trust policy names a role declared after it is retried once that role
// exists, since a trust policy may only name principals that exist.
//
// The file owns the users and roles it creates: they are marked
// (User.Declared, Role.Declared) in the write that creates them. A user or
// role of a declared name that is not marked, or whose path is not the
// declared one, was made by someone else (perhaps to squat the name and
// receive the declared permissions through credentials of its own): it is
// not applied but returned in skipped, as is a role whose trust policy
// names a principal skipped so, a name taken in another case, and an
// access key ID held by another principal. The operator adopts such a user
// or role with `adopt: true`: it is marked and moved to the declared path,
// its inline policies and access keys that the file does not declare are
// deleted, and a role's trust policy, description and maximum session
// duration are replaced and its sessions issued until then are revoked
// (see adoptUser, adoptRole). Adopting a principal the file owns already
// changes nothing.
//
// A Trent that did not mark its principals may have applied the file
// before: the first application after StartPrincipalsEpoch marks the
// unmarked users and roles it declares that have the declared path and
// were created before the epoch, as that Trent's.
//
// err is a failure to apply the file (a missing secret, a malformed
// policy, a trust policy naming a principal that does not exist, the
// store); errors and skips name the principal but never contain a secret.
func (d *Directory) ApplyPrincipals(ctx context.Context, p *Principals, getenv func(string) string) (skipped []Skipped, err error) {
	meta, ver, err := d.principalsMeta(ctx)
	if err != nil {
		return nil, err
	}
	a := &applier{d: d, getenv: getenv, skippedNames: map[string]bool{}}
	if !meta.Upgraded {
		a.upgradeBefore = meta.Since.UTC().Truncate(time.Second)
	}
	for _, acc := range p.Accounts {
		if _, err := d.EnsureAccount(ctx, acc.ID, acc.Name); err != nil {
			return a.skipped, fmt.Errorf("principals: account %s: %w", acc.ID, err)
		}
		for _, k := range acc.RootAccessKeys {
			if err := a.key(ctx, acc.ID, nil, k); err != nil {
				return a.skipped, err
			}
		}
		for _, u := range acc.Users {
			if err := a.user(ctx, acc.ID, u); err != nil {
				return a.skipped, err
			}
		}
		for _, sv := range acc.Services {
			if err := a.service(ctx, acc.ID, sv); err != nil {
				return a.skipped, err
			}
		}
	}
	if err := a.pruneServices(ctx, p); err != nil {
		return a.skipped, err
	}
	// Every role is judged before any trust policy is applied, so that a
	// role trusting a squatted role declared after it is not bound to the
	// squatter.
	var todo []*roleTask
	for _, acc := range p.Accounts {
		for _, r := range acc.Roles {
			t, err := a.judgeRole(ctx, acc.ID, r)
			if err != nil {
				return a.skipped, err
			}
			if t != nil {
				todo = append(todo, t)
			}
		}
	}
	for len(todo) > 0 {
		var later []*roleTask
		var lastErr error
		for _, t := range todo {
			retry, err := a.role(ctx, t)
			if retry {
				later, lastErr = append(later, t), err
				continue
			}
			if err != nil {
				return a.skipped, err
			}
		}
		if len(later) == len(todo) {
			return a.skipped, lastErr
		}
		todo = later
	}
	if !meta.Upgraded {
		meta.Upgraded = true
		data, _ := json.Marshal(meta)
		// A conflict means another node recorded the same.
		if err := d.store.Apply(ctx, store.Op{Kind: KindMeta, ID: metaPrincipals, Data: data, IfVersion: ver}); err != nil && !errors.Is(err, store.ErrConflict) {
			return a.skipped, err
		}
	}
	return a.skipped, nil
}

// KindMeta holds the directory's one-of-a-kind records; metaPrincipals is
// the principalsMeta record.
const (
	KindMeta       = "iammeta"
	metaPrincipals = "principals"
)

// principalsMeta records when a Trent that marks the principals its file
// creates first ran on the store (Since), and whether it has applied a
// principals file since (Upgraded): until then, unmarked principals
// created before Since may be an earlier Trent's.
type principalsMeta struct {
	Since    time.Time `json:"since"`
	Upgraded bool      `json:"upgraded"`
}

// StartPrincipalsEpoch records, once per store, when a Trent that marks
// the principals its principals file creates first ran on it. The server
// calls it at every start, before applying the file; ApplyPrincipals does
// too. The first application of the file after it treats an unmarked user
// or role created before the epoch as made by an earlier Trent (see
// ApplyPrincipals); recording the epoch early, even when no file is
// configured, keeps principals created since out of that.
func (d *Directory) StartPrincipalsEpoch(ctx context.Context) error {
	_, _, err := d.principalsMeta(ctx)
	return err
}

// principalsMeta returns the principalsMeta record and its version,
// creating it (Since now) if it does not exist.
func (d *Directory) principalsMeta(ctx context.Context) (principalsMeta, int64, error) {
	for {
		var m principalsMeta
		ver, err := d.getJSON(ctx, KindMeta, metaPrincipals, &m)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return m, ver, err
		}
		m.Since = d.now().UTC()
		data, _ := json.Marshal(m)
		err = d.store.Apply(ctx, store.Op{Kind: KindMeta, ID: metaPrincipals, Data: data, Create: true})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return m, 0, err
		}
		// Read it back: another node may have created it first.
	}
}

// applier is one application of a principals file.
type applier struct {
	d      *Directory
	getenv func(string) string
	// upgradeBefore is the epoch while the file has not been applied
	// since it (zero after): unmarked principals created before it are an
	// earlier Trent's.
	upgradeBefore time.Time
	skipped       []Skipped
	// skippedNames holds the users and roles skipped without one of the
	// file's under that name (KIND/ACCOUNT/NAME, see principalName): a
	// trust policy naming one, under any path, is not applied, since
	// binding it would name the squatter (or nothing).
	skippedNames map[string]bool
}

// principalName returns the skippedNames key of the user or role a
// principal ARN names (a role session's ARN names its role), "" for other
// principals.
func principalName(principal string) string {
	a, ok := arn.Parse(principal)
	if !ok {
		return ""
	}
	res := a.Resource
	switch {
	case a.Service == "iam" && (strings.HasPrefix(res, "user/") || strings.HasPrefix(res, "role/")):
		return res[:4] + "/" + a.Account + "/" + arn.Name(res)
	case a.Service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		role, _, _ := strings.Cut(res[len("assumed-role/"):], "/")
		return "role/" + a.Account + "/" + role
	}
	return ""
}

func (a *applier) skip(account, kind, name, reason string) {
	a.skipped = append(a.skipped, Skipped{Account: account, Kind: kind, Name: name, Reason: reason})
}

// plan is what applying a declared user or role does to what exists.
type plan int

const (
	planCreate  plan = iota // there is none: create it, marked
	planOwned               // the file's own (marked, declared path): update it
	planAdopt               // adopt: true on one the file does not own: take it over
	planUpgrade             // an earlier Trent's (see ApplyPrincipals): mark it
	planSkip                // someone else's: leave it alone
)

// existing is what ApplyPrincipals needs of an existing user or role.
type existing struct {
	id       string
	path     string
	declared bool
	created  time.Time
}

// judge decides what to do with e, the existing user or role (nil if none)
// declared with path and adopt; for planSkip, reason says why.
func (a *applier) judge(e *existing, path string, adopt bool) (p plan, reason string) {
	const how = "; set adopt: true in the file to adopt it (docs/principals.md)"
	switch {
	case e == nil:
		return planCreate, ""
	case e.declared && e.path == path:
		return planOwned, ""
	case adopt:
		return planAdopt, ""
	case !e.declared && e.path == path && e.created.Before(a.upgradeBefore):
		return planUpgrade, ""
	case e.declared:
		return planSkip, fmt.Sprintf("it exists under path %s, not the declared %s%s", e.path, path, how)
	case e.path != path:
		return planSkip, fmt.Sprintf("it exists under path %s, not the declared %s, and was not created by the principals file%s", e.path, path, how)
	}
	return planSkip, "it exists and was not created by the principals file" + how
}

// caseTaken is the reason to skip a user or role whose name is taken in
// another case (creating it fails, yet there is none of that exact name);
// adopting it would mean renaming it, which IAM cannot.
func caseTaken(label string) string {
	return fmt.Sprintf("a %s whose name differs from it only in case exists (IAM names are unique without regard to case); delete it or declare its exact name", label)
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// user applies one declared user.
func (a *applier) user(ctx context.Context, account string, u DeclaredUser) error {
	d := a.d
	path := cleanPath(u.Path)
	skip := func(reason string) error {
		a.skip(account, "user", u.Name, reason)
		a.skippedNames["user/"+account+"/"+u.Name] = true
		return nil
	}
	var id string
	for attempt := 0; ; attempt++ {
		cur, err := d.GetUser(ctx, account, u.Name)
		var e *existing
		switch {
		case err == nil:
			e = &existing{id: cur.UserID, path: cur.Path, declared: cur.Declared, created: cur.Created}
		case isCode(err, CodeNoSuchEntity):
		default:
			return fmt.Errorf("principals: user %s/%s: %w", account, u.Name, err)
		}
		p, reason := a.judge(e, path, u.Adopt)
		switch p {
		case planSkip:
			return skip(reason)
		case planOwned:
			id = e.id
		case planCreate:
			nu, err := d.createUser(ctx, account, u.Name, u.Path, true)
			if isCode(err, CodeEntityAlreadyExists) {
				if attempt == 0 {
					continue // made meanwhile (another node applying the file?): judge it
				}
				return skip(caseTaken("user"))
			}
			if err != nil {
				return fmt.Errorf("principals: user %s/%s: %w", account, u.Name, err)
			}
			id = nu.UserID
		case planAdopt, planUpgrade:
			// The user judged, not one made since.
			id, err = d.adoptUser(WithTarget(ctx, KindUser, account, u.Name, e.id), account, u, path, p == planAdopt)
			if errors.Is(err, ErrTargetChanged) {
				return skip(recreated)
			}
			if err != nil {
				return fmt.Errorf("principals: user %s/%s: %w", account, u.Name, err)
			}
		}
		break
	}
	// From here on, the user must stay the one judged: re-created since,
	// it is someone else's (ErrTargetChanged).
	ctx = WithTarget(ctx, KindUser, account, u.Name, id)
	for name, doc := range u.Policies {
		if cur, err := d.GetUserPolicy(ctx, account, u.Name, name); err == nil && cur == string(doc) {
			continue
		}
		if err := d.PutUserPolicy(ctx, account, u.Name, name, string(doc)); err != nil {
			if errors.Is(err, ErrTargetChanged) {
				return skip(recreated)
			}
			return fmt.Errorf("principals: user %s/%s policy %s: %w", account, u.Name, name, err)
		}
	}
	for _, k := range u.AccessKeys {
		if err := a.key(ctx, account, &u, k); err != nil {
			if errors.Is(err, ErrTargetChanged) {
				return skip(recreated)
			}
			return err
		}
	}
	return nil
}

// adoptUser marks the existing user u.Name as the file's, at path. With
// takeOver (adopt: true) it also deletes the user's inline policies and
// access keys that u does not declare, in the same write: the file now
// decides what the user may do and who holds its credentials. Without it
// (an earlier Trent's user) it only marks. A user the file owns already
// (another node adopted it meanwhile) is left alone. It returns the
// user's unique ID.
func (d *Directory) adoptUser(ctx context.Context, account string, u DeclaredUser, path string, takeOver bool) (string, error) {
	var id string
	var gone []string
	err := d.update(ctx, func() error {
		cur, ver, err := d.getUser(ctx, account, u.Name)
		if err != nil {
			return err
		}
		id, gone = cur.UserID, nil
		if cur.Declared && cur.Path == path {
			return nil
		}
		var ops []store.Op
		if takeOver {
			keys, err := d.store.List(ctx, KindKeyIndex, account+"/"+u.Name+"/", "", 0)
			if err != nil {
				return err
			}
			for _, r := range keys {
				akid := r.ID[strings.LastIndexByte(r.ID, '/')+1:]
				if slices.ContainsFunc(u.AccessKeys, func(k DeclaredKey) bool { return k.ID == akid }) {
					continue // declareKey checks its owner and secret
				}
				gone = append(gone, akid)
				ops = append(ops, store.Op{Kind: KindAccessKey, ID: akid, Delete: true}, store.Op{Kind: KindKeyIndex, ID: r.ID, Delete: true})
			}
			pols, err := d.store.List(ctx, KindUserPolicy, account+"/"+u.Name+"/", "", 0)
			if err != nil {
				return err
			}
			for _, r := range pols {
				if _, ok := u.Policies[r.ID[strings.LastIndexByte(r.ID, '/')+1:]]; !ok {
					ops = append(ops, store.Op{Kind: KindUserPolicy, ID: r.ID, Delete: true})
				}
			}
			cur.Path = path
		}
		cur.Declared = true
		// IfVersion: a key created concurrently touches the user, so it
		// cannot slip past the deletion.
		data, _ := json.Marshal(cur)
		ops = append(ops, store.Op{Kind: KindUser, ID: account + "/" + u.Name, Data: data, IfVersion: ver})
		return d.store.Apply(ctx, ops...)
	}, KindUser, account+"/"+u.Name)
	for _, akid := range gone {
		d.keys.Invalidate(akid)
	}
	d.pols.Invalidate("user/" + account + "/" + u.Name)
	return id, err
}

// roleTask is a declared role judged and waiting for its trust policy to
// be applied.
type roleTask struct {
	account string
	role    DeclaredRole
	path    string
	plan    plan
	id      string // the existing role's unique ID, "" for planCreate
}

// judgeRole decides what to do with declared role r; nil if it is
// skipped.
func (a *applier) judgeRole(ctx context.Context, account string, r DeclaredRole) (*roleTask, error) {
	d := a.d
	t := &roleTask{account: account, role: r, path: cleanPath(r.Path)}
	cur, err := d.GetRole(ctx, account, r.Name)
	var e *existing
	switch {
	case err == nil:
		e = &existing{id: cur.RoleID, path: cur.Path, declared: cur.Declared, created: cur.Created}
		t.id = cur.RoleID
	case isCode(err, CodeNoSuchEntity):
	default:
		return nil, fmt.Errorf("principals: role %s/%s: %w", account, r.Name, err)
	}
	var reason string
	if t.plan, reason = a.judge(e, t.path, r.Adopt); t.plan == planSkip {
		a.skipRole(t, reason)
		return nil, nil
	}
	return t, nil
}

// recreated is the reason to skip a user or role deleted and re-created
// (by someone else) between its judgement and its application.
const recreated = "it was deleted and re-created while the file was applied"

// skipRole records a skipped role. Unless the role is the file's own (its
// trust policy or policies could not be applied, but it is the file's),
// roles trusting it are skipped too.
func (a *applier) skipRole(t *roleTask, reason string) {
	a.skip(t.account, "role", t.role.Name, reason)
	if t.plan != planOwned && t.plan != planUpgrade {
		a.skippedNames["role/"+t.account+"/"+t.role.Name] = true
	}
}

// trustNamesSkipped returns a principal the trust policy doc names that
// was skipped ("" if none). Role session ARNs count: they are matched by
// ARN alone, so a squatted role's sessions would match them.
func (a *applier) trustNamesSkipped(doc string) string {
	for _, arn := range trustARNs(doc) {
		if a.skippedNames[principalName(arn)] {
			return arn
		}
	}
	return ""
}

// trustARNs returns the AWS principals that the Principal and NotPrincipal
// elements of a policy document name. A malformed document yields what
// could be read: CreateRole and UpdateTrustPolicy say what is wrong.
func trustARNs(doc string) []string {
	var top struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &top) != nil {
		return nil
	}
	var sts []json.RawMessage
	if json.Unmarshal(top.Statement, &sts) != nil {
		sts = []json.RawMessage{top.Statement}
	}
	var out []string
	for _, raw := range sts {
		var st struct {
			Principal, NotPrincipal struct {
				AWS json.RawMessage
			}
		}
		if json.Unmarshal(raw, &st) != nil {
			continue
		}
		for _, v := range []json.RawMessage{st.Principal.AWS, st.NotPrincipal.AWS} {
			var one string
			var many []string
			if json.Unmarshal(v, &one) == nil {
				out = append(out, one)
			} else if json.Unmarshal(v, &many) == nil {
				out = append(out, many...)
			}
		}
	}
	return out
}

// role applies one judged role. retry reports that its trust policy names
// a principal that does not exist (yet).
func (a *applier) role(ctx context.Context, t *roleTask) (retry bool, err error) {
	d, account, r := a.d, t.account, t.role
	wrap := func(err error) error { return fmt.Errorf("principals: role %s/%s: %w", account, r.Name, err) }
	if t.plan == planUpgrade {
		if _, err := d.adoptRole(WithTarget(ctx, KindRole, account, r.Name, t.id), account, r, t.path, false); err != nil {
			if errors.Is(err, ErrTargetChanged) {
				t.plan = planSkip
				a.skipRole(t, recreated)
				return false, nil
			}
			return false, wrap(err)
		}
		t.plan = planOwned
	}
	if arn := a.trustNamesSkipped(string(r.TrustPolicy)); arn != "" {
		a.skipRole(t, fmt.Sprintf("its trust policy names %s, which was not applied", arn))
		return false, nil
	}
	switch t.plan {
	case planCreate:
		var nr *Role
		nr, err = d.CreateRole(ctx, RoleInput{Account: account, Name: r.Name, Path: r.Path, Description: r.Description,
			TrustPolicy: string(r.TrustPolicy), MaxSessionDuration: r.MaxSessionDuration, declared: true})
		if isCode(err, CodeEntityAlreadyExists) {
			// Made meanwhile (another node applying the file?), or the
			// name is taken in another case: judge what is there.
			nt, err := a.judgeRole(ctx, account, r)
			switch {
			case err != nil || nt == nil:
				return false, err
			case nt.plan == planCreate:
				a.skipRole(t, caseTaken("role"))
				return false, nil
			}
			*t = *nt
			return a.role(ctx, t)
		}
		if err == nil {
			t.id, t.plan = nr.RoleID, planOwned
		}
	case planAdopt:
		// The role judged, not one made since.
		_, err = d.adoptRole(WithTarget(ctx, KindRole, account, r.Name, t.id), account, r, t.path, true)
		if err == nil {
			t.plan = planOwned
		}
	case planOwned:
		ctx = WithTarget(ctx, KindRole, account, r.Name, t.id)
		var cur *Role
		if cur, err = d.GetRole(ctx, account, r.Name); err == nil && cur.TrustPolicy != string(r.TrustPolicy) {
			err = d.UpdateTrustPolicy(ctx, account, r.Name, string(r.TrustPolicy))
		}
	}
	if err != nil {
		if errors.Is(err, ErrTargetChanged) {
			t.plan = planSkip
			a.skipRole(t, recreated)
			return false, nil
		}
		e := awserr.As(err)
		retry = e != nil && e.Code == CodeMalformedPolicyDocument && strings.HasPrefix(e.Message, "Invalid principal")
		return retry, wrap(err)
	}
	ctx = WithTarget(ctx, KindRole, account, r.Name, t.id)
	for name, doc := range r.Policies {
		if cur, err := d.GetRolePolicy(ctx, account, r.Name, name); err == nil && cur == string(doc) {
			continue
		}
		if err := d.PutRolePolicy(ctx, account, r.Name, name, string(doc)); err != nil {
			if errors.Is(err, ErrTargetChanged) {
				t.plan = planSkip
				a.skipRole(t, recreated)
				return false, nil
			}
			return false, fmt.Errorf("principals: role %s/%s policy %s: %w", account, r.Name, name, err)
		}
	}
	return false, nil
}

// sessionCut is how far ahead of the adopting node's clock adoptRole sets
// Role.SessionsNotBefore. A session that the role's previous trust policy
// authorized was either written before the adoption, and so dated before
// the cut (unless its node's clock runs ahead, or the adoption's write
// took, more than this), or its AssumeRole re-reads the role after the
// adoption, sees the new cut and withdraws it. AssumeRole dates the
// sessions it authorizes after the adoption at the cut at the earliest, so
// those keep the role's policies.
const sessionCut = time.Minute

// adoptRole marks the existing role r.Name as the file's, at path. With
// takeOver (adopt: true) it also, in the same write, replaces the role's
// trust policy, description and maximum session duration with the
// declared ones, deletes its inline policies that r does not declare, and
// sets Role.SessionsNotBefore, so that sessions issued until now (perhaps
// to whoever made the role) get none of the policies the file puts on it;
// it then deletes those sessions' credentials (should the node stop first,
// they expire on their own, and the cut holds). Without takeOver (an
// earlier Trent's role) it only marks. A role the file owns already is
// left alone. It returns the role's unique ID.
func (d *Directory) adoptRole(ctx context.Context, account string, r DeclaredRole, path string, takeOver bool) (string, error) {
	var trust map[string]string
	maxSession := r.MaxSessionDuration
	if takeOver {
		p, err := parseTrust(string(r.TrustPolicy))
		if err != nil {
			return "", err
		}
		if trust, err = d.bindTrust(ctx, p); err != nil {
			return "", err
		}
		if maxSession == 0 {
			maxSession = int(DefaultSessionDuration / time.Second)
		}
		if maxSession < 3600 || maxSession > 43200 {
			return "", validation("1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200", maxSession)
		}
	}
	var id string
	var notBefore time.Time
	err := d.update(ctx, func() error {
		cur, ver, err := d.getRole(ctx, account, r.Name)
		if err != nil {
			return err
		}
		id, notBefore = cur.RoleID, time.Time{}
		if cur.Declared && cur.Path == path {
			return nil
		}
		var ops []store.Op
		if takeOver {
			pols, err := d.store.List(ctx, KindRolePolicy, account+"/"+r.Name+"/", "", 0)
			if err != nil {
				return err
			}
			for _, rec := range pols {
				if _, ok := r.Policies[rec.ID[strings.LastIndexByte(rec.ID, '/')+1:]]; !ok {
					ops = append(ops, store.Op{Kind: KindRolePolicy, ID: rec.ID, Delete: true})
				}
			}
			notBefore = d.now().UTC().Truncate(time.Second).Add(sessionCut)
			cur.Path, cur.Description, cur.MaxSessionDuration = path, r.Description, maxSession
			cur.TrustPolicy, cur.TrustPrincipals = string(r.TrustPolicy), trust
			cur.SessionsNotBefore = notBefore
		}
		cur.Declared = true
		data, _ := json.Marshal(cur)
		ops = append(ops, store.Op{Kind: KindRole, ID: account + "/" + r.Name, Data: data, IfVersion: ver})
		return d.store.Apply(ctx, ops...)
	}, KindRole, account+"/"+r.Name)
	d.pols.Invalidate("role/" + account + "/" + r.Name)
	if err != nil || notBefore.IsZero() {
		return id, err
	}
	return id, d.revokeSessions(ctx, id, notBefore)
}

// revokeSessions deletes the temporary credentials of role roleID issued
// before notBefore. It reads every live session (there is no index by
// role); it runs only when the file adopts a role.
func (d *Directory) revokeSessions(ctx context.Context, roleID string, notBefore time.Time) error {
	return store.Each(ctx, d.store, KindSession, func(r store.Record) error {
		akid := r.ID[strings.IndexByte(r.ID, '/')+1:]
		var doc accessKeyDoc
		if _, err := d.getJSON(ctx, KindAccessKey, akid, &doc); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		if !strings.HasPrefix(doc.PrincipalID, roleID+":") || !doc.Created.Before(notBefore) {
			return nil
		}
		err := d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: akid, Delete: true}, store.Op{Kind: KindSession, ID: r.ID, Delete: true})
		d.keys.Invalidate(akid)
		return err
	})
}

// key makes access key k of user u (or of the account root when u is nil)
// exist with its declared secret. A key ID held by another principal is
// skipped; one of u made before u's path or unique ID changed (u was
// adopted) is replaced.
func (a *applier) key(ctx context.Context, account string, u *DeclaredUser, k DeclaredKey) error {
	var secret string
	switch {
	case k.SecretEnv != "":
		secret = a.getenv(k.SecretEnv)
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
	typ, user := TypeRoot, ""
	if u != nil {
		typ, user = TypeIAMUser, u.Name
	}
	for attempt := 0; ; attempt++ {
		err := a.putKey(ctx, account, typ, user, k.ID, secret)
		// Another node applying the file wrote (or replaced) the key, or
		// wrote the user, meanwhile: look again.
		if attempt < 2 && (errors.Is(err, ErrExists) || errors.Is(err, store.ErrConflict) || isCode(err, CodeNoSuchEntity)) {
			continue
		}
		if err != nil && !errors.Is(err, ErrTargetChanged) {
			return fmt.Errorf("principals: access key %s: %w", k.ID, err)
		}
		return err
	}
}

// putKey makes the access key akid of user (the root when user is "")
// exist with secret, replacing one with another secret, or made before the
// user's path or unique ID changed.
func (a *applier) putKey(ctx context.Context, account, typ, user, akid, secret string) error {
	d := a.d
	var owner *User
	var ownerVer int64
	if user != "" {
		var err error
		if owner, ownerVer, err = d.getUser(ctx, account, user); err != nil {
			return err
		}
	}
	id, _, err := d.load(ctx, akid)
	switch {
	case err == nil:
		if id.doc.Account != account || id.doc.Type != typ || id.doc.UserName != user {
			a.skip(account, "access key", akid, "the access key ID belongs to another principal")
			return nil
		}
		same := subtle.ConstantTimeCompare(id.secret, []byte(secret)) == 1
		if owner != nil && (id.doc.PrincipalID != owner.UserID || id.doc.UserPath != "" && id.doc.UserPath != owner.Path) {
			same = false
		}
		if same {
			return nil
		}
		// The secret was rotated in the environment, or the user moved:
		// replace the key.
		if err := d.DeleteAccessKey(ctx, account, user, akid); err != nil {
			return err
		}
	case !isNotFound(err):
		return err
	}
	ak := AccessKey{ID: akid, Secret: secret, Account: account, Type: typ, UserName: user}
	if owner == nil {
		return d.CreateAccessKey(ctx, ak)
	}
	ak.PrincipalID, ak.UserPath = owner.UserID, owner.Path
	return d.createAccessKey(ctx, ak, touchOp(KindUser, account+"/"+user, owner, ownerVer))
}

func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound)
}

func isCode(err error, code string) bool {
	e := awserr.As(err)
	return e != nil && e.Code == code
}
