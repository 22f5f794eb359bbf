package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/keyring"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/store"
)

// Record kinds owned by this package.
const (
	KindAccessKey = "accesskey"
	KindAccount   = "account"
)

// Principal types, as CloudTrail's userIdentity.type names them.
const (
	TypeRoot        = "Root"
	TypeIAMUser     = "IAMUser"
	TypeAssumedRole = "AssumedRole"
	// TypeAWSService is a service principal (SERVICE.amazonaws.com)
	// declared as its account's front end of a service in the principals
	// file (docs/services.md).
	TypeAWSService = "AWSService"
)

// accessKeyDoc is the stored form of an access key.
type accessKeyDoc struct {
	ID           string `json:"id"`
	Account      string `json:"account"`
	Type         string `json:"type"`
	UserName     string `json:"userName,omitempty"`
	RoleARN      string `json:"roleArn,omitempty"`
	SessionName  string `json:"sessionName,omitempty"`
	PrincipalID  string `json:"principalId"`
	SealedSecret []byte `json:"sealedSecret"`
	// SessionTokenHash is the SHA-256 of a temporary credential's session
	// token. The token itself is never stored, so that whoever reads the
	// store (a backup, a copied data directory) cannot use the session.
	SessionTokenHash []byte `json:"sessionTokenSha256,omitempty"`
	// LegacySessionToken is a session token stored in the clear by a Trent
	// that did not hash them; it is read (as its hash) until the session
	// expires and is swept, and never written.
	LegacySessionToken string    `json:"sessionToken,omitempty"`
	Status             string    `json:"status"`
	Created            time.Time `json:"created"`
	Expires            time.Time `json:"expires,omitzero"`

	// UserPath is the IAM user's path, part of its ARN. Keys stored before
	// it was recorded have none; load reads it from the user then.
	UserPath string `json:"userPath,omitempty"`

	// Service is a service principal's service ("s3"; Type AWSService).
	Service string `json:"service,omitempty"`
}

// sessionTokenHash is what the store keeps of a session token.
func sessionTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// identity is an access key as the hot path uses it.
type identity struct {
	doc    accessKeyDoc
	secret []byte
	caller kms.Caller
}

// Directory is the principal directory.
type Directory struct {
	store     store.Store
	root      rootkey.Provider
	partition string
	now       func() time.Time
	keys      *keyring.Ring[*identity]
	pols      *keyring.Ring[*ownerPolicies]
	pcache    *policy.Cache
	// locks queue this process's writers of one record (update).
	locks store.Locks
	// offset is how far now runs ahead of the wall clock (devclock.go);
	// nil: not at all.
	offset func() time.Duration
}

// New returns a Directory over st, sealing secrets with root.
func New(st store.Store, root rootkey.Provider, partition string, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	d := &Directory{store: st, root: root, partition: partition, now: now}
	d.keys = keyring.New(d.load, keyring.Options{MaxAge: 30 * time.Second, Now: now})
	d.pols = keyring.New(d.loadPolicies, keyring.Options{MaxAge: 30 * time.Second, Now: now})
	d.pcache = policy.NewCache(1024)
	return d
}

// Invalidate drops a cached access key; the change feed calls it.
func (d *Directory) Invalidate(id string) { d.keys.Invalidate(id) }

// Purge drops every cached access key; the change feed calls it when it was
// truncated or cannot be read (kms.Service.OnPurge).
func (d *Directory) Purge() {
	d.keys.Purge()
	d.pols.Purge()
}

func secretAAD(akid string) []byte { return []byte("trent/access-key/v1\x00" + akid) }

func (d *Directory) load(ctx context.Context, akid string) (*identity, int64, error) {
	rec, err := d.store.Get(ctx, KindAccessKey, akid)
	if err != nil {
		return nil, 0, err
	}
	var doc accessKeyDoc
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		return nil, 0, fmt.Errorf("iam: decode access key: %w", err)
	}
	if doc.SessionTokenHash == nil && doc.LegacySessionToken != "" {
		doc.SessionTokenHash, doc.LegacySessionToken = sessionTokenHash(doc.LegacySessionToken), ""
	}
	secret, err := d.root.Open(doc.SealedSecret, secretAAD(akid))
	if err != nil {
		return nil, 0, fmt.Errorf("iam: unseal access key secret: %w", err)
	}
	id := &identity{doc: doc, secret: secret}
	id.caller = kms.Caller{
		Account: doc.Account, Type: doc.Type, PrincipalID: doc.PrincipalID,
		UserName: doc.UserName, RoleARN: doc.RoleARN, SessionName: doc.SessionName, AccessKeyID: akid,
	}
	switch doc.Type {
	case TypeRoot:
		id.caller.ARN = fmt.Sprintf("arn:%s:iam::%s:root", d.partition, doc.Account)
	case TypeIAMUser:
		path := doc.UserPath
		if path == "" {
			if path, err = d.legacyUserPath(ctx, doc); err != nil {
				return nil, 0, err
			}
		}
		id.caller.ARN = d.UserARN(doc.Account, doc.UserName, path)
	case TypeAssumedRole:
		// The session ARN has no path; aws:PrincipalArn (RoleARN) does.
		role := arn.Name(doc.RoleARN)
		id.caller.ARN = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", d.partition, doc.Account, role, doc.SessionName)
		id.caller.TokenIssueTime = doc.Created.UTC().Format(time.RFC3339)
	case TypeAWSService:
		id.caller.ARN, id.caller.Service = ServicePrincipal(doc.Service), doc.Service
	}
	return id, rec.Version, nil
}

// legacyUserPath returns the path of the user owning an access key stored
// before keys recorded it. A user cannot be deleted while it has keys, so
// the user is the key's own; "/" if it is gone all the same.
func (d *Directory) legacyUserPath(ctx context.Context, doc accessKeyDoc) (string, error) {
	var u User
	_, err := d.getJSON(ctx, KindUser, doc.Account+"/"+doc.UserName, &u)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "/", nil
	case err != nil:
		return "", err
	case u.UserID != doc.PrincipalID || u.Path == "":
		return "/", nil
	}
	return u.Path, nil
}

// Lookup implements sigv4.CredentialSource.
func (d *Directory) Lookup(ctx context.Context, akid string) (sigv4.Secret, error) {
	id, err := d.keys.Get(ctx, akid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return sigv4.Secret{}, sigv4.ErrUnknownAccessKey
		}
		return sigv4.Secret{}, err
	}
	if id.doc.Status != "Active" {
		return sigv4.Secret{}, sigv4.ErrUnknownAccessKey
	}
	return sigv4.Secret{Key: id.secret, SessionTokenSHA256: id.doc.SessionTokenHash, Expires: d.wallExpiry(id.doc.Expires)}, nil
}

// Caller returns the principal of an access key verified by Lookup. The
// result is a copy the server may annotate with request facts.
func (d *Directory) Caller(ctx context.Context, akid string) (*kms.Caller, error) {
	id, err := d.keys.Get(ctx, akid)
	if err != nil {
		return nil, err
	}
	c := id.caller
	return &c, nil
}

// NewAccessKeyID returns a fresh access key ID: AKIA (long-term) or ASIA
// (temporary) followed by 16 base32 characters, as AWS formats them.
func NewAccessKeyID(temporary bool) string {
	var b [10]byte
	rand.Read(b[:])
	prefix := "AKIA"
	if temporary {
		prefix = "ASIA"
	}
	return prefix + base32.StdEncoding.EncodeToString(b[:])[:16]
}

// NewSecret returns a fresh 40-character secret access key.
func NewSecret() string {
	var b [30]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// AccessKey describes a key to create.
type AccessKey struct {
	ID, Secret   string
	Account      string
	Type         string
	UserName     string
	RoleARN      string
	SessionName  string
	SessionToken string
	Expires      time.Time
	// PrincipalID is CloudTrail's principalId: the user's unique ID for
	// IAM users, ROLEID:SESSION for role sessions; empty means the account
	// ID for the root and the access key ID otherwise.
	PrincipalID string

	// UserPath is an IAM user's path; when empty, the user's is looked up
	// when the key is loaded.
	UserPath string
	// Created is when the key was issued (a session's aws:TokenIssueTime);
	// zero means now.
	Created time.Time
	// Service is a service principal's service (Type TypeAWSService).
	Service string
}

// ErrExists is returned by CreateAccessKey when the ID is taken.
var ErrExists = errors.New("iam: access key exists")

// CreateAccessKey stores an access key, sealing its secret. It returns
// ErrExists if the access key ID is taken.
func (d *Directory) CreateAccessKey(ctx context.Context, k AccessKey) error {
	return d.createAccessKey(ctx, k)
}

// createAccessKey stores k and its owner index entry together with extra
// ops in one batch.
func (d *Directory) createAccessKey(ctx context.Context, k AccessKey, extra ...store.Op) error {
	sealed, err := d.root.Seal([]byte(k.Secret), secretAAD(k.ID))
	if err != nil {
		return err
	}
	pid := k.PrincipalID
	switch {
	case pid != "":
	case k.Type == TypeRoot:
		pid = k.Account
	default:
		pid = k.ID
	}
	created := k.Created
	if created.IsZero() {
		created = d.now()
	}
	doc := accessKeyDoc{ID: k.ID, Account: k.Account, Type: k.Type, UserName: k.UserName, RoleARN: k.RoleARN,
		SessionName: k.SessionName, PrincipalID: pid, SealedSecret: sealed,
		Status: "Active", Created: created.UTC(), Expires: k.Expires}
	if k.Type == TypeIAMUser {
		doc.UserPath = k.UserPath // when empty, load reads it from the user
	}
	if k.Type == TypeAWSService {
		doc.Service = k.Service
	}
	if k.SessionToken != "" {
		doc.SessionTokenHash = sessionTokenHash(k.SessionToken)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	ops := []store.Op{{Kind: KindAccessKey, ID: k.ID, Data: data, Create: true}}
	if k.Type == TypeRoot || k.Type == TypeIAMUser {
		ops = append(ops, store.Op{Kind: KindKeyIndex, ID: k.Account + "/" + owner(k.UserName) + "/" + k.ID, Data: []byte("{}")})
	}
	err = d.store.Apply(ctx, append(ops, extra...)...)
	if errors.Is(err, store.ErrExists) {
		return ErrExists
	}
	return err
}

// Exists reports whether an access key ID is stored.
func (d *Directory) Exists(ctx context.Context, akid string) (bool, error) {
	_, err := d.store.Get(ctx, KindAccessKey, akid)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
