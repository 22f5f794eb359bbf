package iam

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// Record kinds of users, roles and their inline policies. IDs are
// ACCOUNT/NAME for users and roles and ACCOUNT/OWNER/POLICY for policies;
// names cannot contain '/', so the IDs are unambiguous and a prefix lists
// one owner's policies.
const (
	KindUser       = "user"
	KindRole       = "role"
	KindUserPolicy = "userpolicy"
	KindRolePolicy = "rolepolicy"
	// KindKeyIndex lists access keys by owner: ACCOUNT/OWNER/AKID, where
	// OWNER is a user name or rootOwner.
	KindKeyIndex = "accesskeyidx"
	// KindNameFold reserves a user's or role's name without regard to
	// case (IAM names are unique so: "boss" and "BOSS" cannot both
	// exist): KIND/ACCOUNT/lowercased name, written in the batch that
	// creates the user or role and deleted with it.
	KindNameFold = "iamnamefold"
)

// nameFoldID is the KindNameFold record of a user (kind KindUser) or role.
// Names are ASCII ([\w+=,.@-]), so lower-casing them is ASCII folding.
func nameFoldID(kind, account, name string) string {
	return kind + "/" + account + "/" + strings.ToLower(name)
}

// nameTaken reports whether account has a user (kind KindUser) or role
// whose name equals name without regard to case. The KindNameFold record
// makes concurrent creations exclusive; this scan finds the users and
// roles created before names were reserved, which have none.
func (d *Directory) nameTaken(ctx context.Context, kind, account, name string) (bool, error) {
	recs, err := d.store.List(ctx, kind, account+"/", "", 0)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if strings.EqualFold(r.ID[len(account)+1:], name) {
			return true, nil
		}
	}
	return false, nil
}

// rootOwner is the owner segment of the root's access keys in the index; it
// cannot collide with a user name because ':' is not allowed in names.
const rootOwner = ":root"

// Quotas, as AWS documents them.
const (
	MaxAccessKeysPerUser = 2
	MaxUserPolicyBytes   = 2048
	MaxRolePolicyBytes   = 10240
	MaxTrustPolicyBytes  = 2048
)

// User is an IAM user. Declared marks a user the principals file created
// or adopted, which is the only kind it applies its declarations to (see
// ApplyPrincipals); it is set in the write that creates the user, and no
// API request sets it.
type User struct {
	Account  string    `json:"account"`
	Name     string    `json:"name"`
	UserID   string    `json:"userId"`
	Path     string    `json:"path"`
	Created  time.Time `json:"created"`
	Declared bool      `json:"declared,omitempty"`
}

// Role is an IAM role. TrustPolicy is its AssumeRolePolicyDocument, as
// given; TrustPrincipals maps each user and role ARN it names to the unique
// ID that principal had when the policy was stored (see PrincipalID).
// Declared is User.Declared for roles. SessionsNotBefore, set when the
// principals file adopts the role (a little ahead of the clock, see
// sessionCut), withholds the role's policies from its sessions dated
// before it (IdentityPolicies); AssumeRole dates the sessions it issues
// afterwards no earlier.
type Role struct {
	Account            string            `json:"account"`
	Name               string            `json:"name"`
	RoleID             string            `json:"roleId"`
	Path               string            `json:"path"`
	Description        string            `json:"description,omitempty"`
	TrustPolicy        string            `json:"trustPolicy"`
	TrustPrincipals    map[string]string `json:"trustPrincipals,omitempty"`
	MaxSessionDuration int               `json:"maxSessionDuration"`
	Created            time.Time         `json:"created"`
	Declared           bool              `json:"declared,omitempty"`
	SessionsNotBefore  time.Time         `json:"sessionsNotBefore,omitzero"`
}

// AccessKeyInfo describes an access key without its secret.
type AccessKeyInfo struct {
	ID       string
	UserName string // empty for the account root's keys
	Status   string
	Created  time.Time
}

// UserARN returns the ARN of user name in account.
func (d *Directory) UserARN(account, name, path string) string {
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("arn:%s:iam::%s:user%s%s", d.partition, account, path, name)
}

// RoleARN returns the ARN of role name in account.
func (d *Directory) RoleARN(account, name, path string) string {
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", d.partition, account, path, name)
}

// Partition returns the ARN partition (aws, aws-cn).
func (d *Directory) Partition() string { return d.partition }

// newUniqueID returns an IAM unique ID such as AIDA... or AROA....
func newUniqueID(prefix string) string {
	var b [11]byte
	rand.Read(b[:])
	return prefix + base32.StdEncoding.EncodeToString(b[:])[:17]
}

// MaxPathLength is the longest IAM path AWS accepts.
const MaxPathLength = 512

// validPath checks an IAM path as AWS does: "" (meaning "/") or 1..512
// characters matching (\u002F)|(\u002F[\u0021-\u007E]+\u002F): it begins
// and ends with '/' and holds only printable ASCII other than space. The
// path is part of the principal's ARN, which policies match.
func validPath(p string) error {
	if p == "" || p == "/" {
		return nil
	}
	if len(p) > MaxPathLength {
		return validation("1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must have length less than or equal to %d", p, MaxPathLength)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return validation("1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", p)
		}
	}
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return validation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return nil
}

func (d *Directory) getJSON(ctx context.Context, kind, id string, v any) (int64, error) {
	rec, err := d.store.Get(ctx, kind, id)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(rec.Data, v); err != nil {
		return 0, fmt.Errorf("iam: decode %s %s: %w", kind, id, err)
	}
	return rec.Version, nil
}

// entity is a pointer to a User or a Role, which the code below creates,
// reads, lists and deletes alike.
type entity[T any] interface {
	*T
	uniqueID() string
}

func (u *User) uniqueID() string { return u.UserID }
func (r *Role) uniqueID() string { return r.RoleID }

// createEntity stores e, a new user or role (o) named name, and reserves
// the name without regard to case. It returns EntityAlreadyExists if the
// account has a user (or role) of that name in any case.
func (d *Directory) createEntity(ctx context.Context, o ownerKind, account, name string, e any) error {
	exists := awserr.Newf(CodeEntityAlreadyExists, "%s with name %s already exists.", o.title, name)
	if taken, err := d.nameTaken(ctx, o.kind, account, name); err != nil {
		return err
	} else if taken {
		return exists
	}
	data, _ := json.Marshal(e)
	err := d.store.Apply(ctx, store.Op{Kind: o.kind, ID: account + "/" + name, Data: data, Create: true},
		store.Op{Kind: KindNameFold, ID: nameFoldID(o.kind, account, name), Data: []byte("{}"), Create: true})
	d.pols.Invalidate(o.label + "/" + account + "/" + name)
	if errors.Is(err, store.ErrExists) {
		return exists
	}
	return err
}

// getEntity reads the user or role (o) name of account, with the version
// of its record. It returns ValidationError for a bad name, NoSuchEntity
// if there is none, and ErrTargetChanged if it is not the one the request
// was authorized on (see checkTarget).
func getEntity[T any, P entity[T]](ctx context.Context, d *Directory, o ownerKind, account, name string) (P, int64, error) {
	if err := validName(name, o.field, 64); err != nil {
		return nil, 0, err
	}
	e := P(new(T))
	v, err := d.getJSON(ctx, o.kind, account+"/"+name, e)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, noSuchEntity("The %s with name %s cannot be found.", o.label, name)
	}
	if err == nil {
		err = checkTarget(ctx, o.kind, account, name, e.uniqueID)
	}
	return e, v, err
}

// listEntities returns the users or roles (o) of an account in name order.
func listEntities[T any](ctx context.Context, d *Directory, o ownerKind, account string) ([]*T, error) {
	recs, err := d.store.List(ctx, o.kind, account+"/", "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		e := new(T)
		if err := json.Unmarshal(r.Data, e); err != nil {
			return nil, fmt.Errorf("iam: decode %s %s: %w", o.label, r.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// deleteEntity deletes the user or role (o) name of account. It returns
// NoSuchEntity if there is none, check's error if check (run first) refuses,
// and DeleteConflict while it has inline policies.
func deleteEntity[T any, P entity[T]](ctx context.Context, d *Directory, o ownerKind, account, name string, check func() error) error {
	return d.update(ctx, func() error {
		_, ver, err := getEntity[T, P](ctx, d, o, account, name)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		pols, err := d.store.List(ctx, o.policyKind, account+"/"+name+"/", "", 1)
		if err != nil {
			return err
		}
		if len(pols) > 0 {
			return awserr.New(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		// IfVersion: creating an access key or a policy touches the
		// owner's record, so one added since the checks above makes this
		// delete conflict.
		err = d.store.Apply(ctx, store.Op{Kind: o.kind, ID: account + "/" + name, Delete: true, IfVersion: ver},
			store.Op{Kind: KindNameFold, ID: nameFoldID(o.kind, account, name), Delete: true})
		d.pols.Invalidate(o.label + "/" + account + "/" + name)
		return err
	}, o.kind, account+"/"+name)
}

// CreateUser creates an IAM user. It returns EntityAlreadyExists if the
// account has a user of that name and ValidationError for a bad name.
func (d *Directory) CreateUser(ctx context.Context, account, name, path string) (*User, error) {
	return d.createUser(ctx, account, name, path, false)
}

// createUser is CreateUser, marking the user as the principals file's when
// declared is set.
func (d *Directory) createUser(ctx context.Context, account, name, path string, declared bool) (*User, error) {
	if err := validName(name, "userName", 64); err != nil {
		return nil, err
	}
	if err := validPath(path); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	u := &User{Account: account, Name: name, UserID: newUniqueID("AIDA"), Path: path, Created: d.now().UTC().Truncate(time.Second), Declared: declared}
	if err := d.createEntity(ctx, userOwner, account, name, u); err != nil {
		return nil, err
	}
	return u, nil
}

// GetUser returns a user, or NoSuchEntity.
func (d *Directory) GetUser(ctx context.Context, account, name string) (*User, error) {
	u, _, err := d.getUser(ctx, account, name)
	return u, err
}

func (d *Directory) getUser(ctx context.Context, account, name string) (*User, int64, error) {
	return getEntity[User](ctx, d, userOwner, account, name)
}

// ListUsers returns the users of an account in name order.
func (d *Directory) ListUsers(ctx context.Context, account string) ([]*User, error) {
	return listEntities[User](ctx, d, userOwner, account)
}

// DeleteUser deletes a user. It returns NoSuchEntity if there is none and
// DeleteConflict while the user still has access keys or inline policies.
func (d *Directory) DeleteUser(ctx context.Context, account, name string) error {
	return deleteEntity[User](ctx, d, userOwner, account, name, func() error {
		keys, err := d.store.List(ctx, KindKeyIndex, account+"/"+name+"/", "", 1)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			return awserr.New(CodeDeleteConflict, "Cannot delete entity, must delete access keys first.")
		}
		return nil
	})
}

// touchOp rewrites a record unchanged at version ver, so that a concurrent
// delete of it (which uses IfVersion) conflicts with the batch.
func touchOp(kind, id string, v any, ver int64) store.Op {
	data, _ := json.Marshal(v)
	return store.Op{Kind: kind, ID: id, Data: data, IfVersion: ver}
}

// CreateUserAccessKey creates an access key for a user and returns it with
// its secret, which is never retrievable again. It returns NoSuchEntity
// for an unknown user and LimitExceeded when the user has
// MaxAccessKeysPerUser keys.
func (d *Directory) CreateUserAccessKey(ctx context.Context, account, userName string) (AccessKeyInfo, string, error) {
	var k AccessKey
	err := d.update(ctx, func() error {
		u, ver, err := d.getUser(ctx, account, userName)
		if err != nil {
			return err
		}
		keys, err := d.store.List(ctx, KindKeyIndex, account+"/"+userName+"/", "", 0)
		if err != nil {
			return err
		}
		if len(keys) >= MaxAccessKeysPerUser {
			return awserr.Newf(CodeLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)
		}
		k = AccessKey{ID: NewAccessKeyID(false), Secret: NewSecret(), Account: account, Type: TypeIAMUser,
			UserName: userName, UserPath: u.Path, PrincipalID: u.UserID}
		// Touching the user makes a concurrent creation conflict, so
		// the count above holds; an ID collision is retried likewise.
		err = d.createAccessKey(ctx, k, touchOp(KindUser, account+"/"+userName, u, ver))
		if errors.Is(err, ErrExists) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return err
	}, KindUser, account+"/"+userName)
	if err != nil {
		return AccessKeyInfo{}, "", err
	}
	return AccessKeyInfo{ID: k.ID, UserName: userName, Status: "Active", Created: d.now().UTC().Truncate(time.Second)}, k.Secret, nil
}

// CreateRootAccessKey creates an access key for an account's root.
func (d *Directory) CreateRootAccessKey(ctx context.Context, account string) (AccessKeyInfo, string, error) {
	for {
		k := AccessKey{ID: NewAccessKeyID(false), Secret: NewSecret(), Account: account, Type: TypeRoot}
		err := d.CreateAccessKey(ctx, k)
		if errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return AccessKeyInfo{}, "", err
		}
		return AccessKeyInfo{ID: k.ID, Status: "Active", Created: d.now().UTC().Truncate(time.Second)}, k.Secret, nil
	}
}

func owner(userName string) string {
	if userName == "" {
		return rootOwner
	}
	return userName
}

// ListAccessKeys lists the access keys of a user, or of the account root
// when userName is empty. It returns NoSuchEntity for an unknown user.
func (d *Directory) ListAccessKeys(ctx context.Context, account, userName string) ([]AccessKeyInfo, error) {
	if userName != "" {
		if _, err := d.GetUser(ctx, account, userName); err != nil {
			return nil, err
		}
	}
	recs, err := d.store.List(ctx, KindKeyIndex, account+"/"+owner(userName)+"/", "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]AccessKeyInfo, 0, len(recs))
	for _, r := range recs {
		akid := r.ID[strings.LastIndexByte(r.ID, '/')+1:]
		var doc accessKeyDoc
		if _, err := d.getJSON(ctx, KindAccessKey, akid, &doc); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, AccessKeyInfo{ID: akid, UserName: userName, Status: doc.Status, Created: doc.Created})
	}
	return out, nil
}

// DeleteAccessKey deletes an access key of a user (or of the account root
// when userName is empty). It returns NoSuchEntity if the key does not
// exist or belongs to someone else.
func (d *Directory) DeleteAccessKey(ctx context.Context, account, userName, akid string) error {
	notFound := noSuchEntity("The Access Key with id %s cannot be found.", akid)
	var doc accessKeyDoc
	_, err := d.getJSON(ctx, KindAccessKey, akid, &doc)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	wantType := TypeIAMUser
	if userName == "" {
		wantType = TypeRoot
	}
	if doc.Account != account || doc.Type != wantType || doc.UserName != userName {
		return notFound
	}
	err = d.store.Apply(ctx,
		store.Op{Kind: KindAccessKey, ID: akid, Delete: true},
		store.Op{Kind: KindKeyIndex, ID: account + "/" + owner(userName) + "/" + akid, Delete: true})
	d.keys.Invalidate(akid)
	return err
}

// UpdateAccessKey sets the status of an access key of a user (or of the
// account root when userName is empty) to "Active" or "Inactive"; an
// inactive key fails authentication like an unknown one. It returns
// NoSuchEntity if the key does not exist or belongs to someone else, and
// ValidationError for another status.
func (d *Directory) UpdateAccessKey(ctx context.Context, account, userName, akid, status string) error {
	if status != "Active" && status != "Inactive" {
		return validation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	return d.update(ctx, func() error {
		var doc accessKeyDoc
		ver, err := d.getJSON(ctx, KindAccessKey, akid, &doc)
		wantType := TypeIAMUser
		if userName == "" {
			wantType = TypeRoot
		}
		if errors.Is(err, store.ErrNotFound) || err == nil && (doc.Account != account || doc.Type != wantType || doc.UserName != userName) {
			return noSuchEntity("The Access Key with id %s cannot be found.", akid)
		}
		if err != nil {
			return err
		}
		doc.Status = status
		data, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		err = d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: akid, Data: data, IfVersion: ver})
		d.keys.Invalidate(akid)
		return err
	}, KindAccessKey, akid)
}
