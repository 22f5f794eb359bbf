package iam

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/trentkms/trent/internal/store"
)

// # Service principals
//
// A service principal is the front end of an AWS service in one account
// (an S3-compatible gateway, a secrets store): a program that calls KMS for
// that account's principals, as S3 calls AWS KMS. Only the principals file
// declares one (DeclaredAccount.Services), with the access keys it signs
// with; no IAM request creates, lists, changes or deletes them. Its
// requests are made as SERVICE.amazonaws.com (Type AWSService), carry
// kms:ViaService, kms:CallerAccount and aws:SourceAccount of its account,
// and reach only that account's keys (docs/services.md).

// DeclaredService is a service principal of a principals file: the front
// end of service Name ("s3") in its account, signing with AccessKeys.
type DeclaredService struct {
	Name       string        `yaml:"name"`
	AccessKeys []DeclaredKey `yaml:"access_keys"`
}

// ServicePrincipal returns the principal name of service, as key policies
// and grants name it: "s3" -> "s3.amazonaws.com".
func ServicePrincipal(service string) string { return service + ".amazonaws.com" }

// ValidServiceName reports whether s can name a service: 1-63 lowercase
// letters, digits and hyphens, starting with a letter (the first label of
// its endpoint, SERVICE.REGION.amazonaws.com).
func ValidServiceName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkServices validates the services of a parsed principals file.
func checkServices(a DeclaredAccount) error {
	for _, sv := range a.Services {
		if !ValidServiceName(sv.Name) {
			return fmt.Errorf("principals: account %s: service name %q must be 1-63 lowercase letters, digits or '-', starting with a letter (s3, secretsmanager)", a.ID, sv.Name)
		}
		if len(sv.AccessKeys) == 0 {
			return fmt.Errorf("principals: account %s: service %s declares no access_keys", a.ID, sv.Name)
		}
	}
	return nil
}

// secret reads the secret of a declared access key.
func (a *applier) secret(k DeclaredKey) (string, error) {
	var secret string
	switch {
	case k.SecretEnv != "":
		secret = a.getenv(k.SecretEnv)
		if secret == "" {
			return "", fmt.Errorf("principals: access key %s: environment variable %s is empty", k.ID, k.SecretEnv)
		}
	default:
		b, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return "", fmt.Errorf("principals: access key %s: %w", k.ID, err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if len(secret) < 16 {
		return "", fmt.Errorf("principals: access key %s: the secret must be at least 16 characters", k.ID)
	}
	return secret, nil
}

// service applies the access keys of a declared service principal.
func (a *applier) service(ctx context.Context, account string, sv DeclaredService) error {
	for _, k := range sv.AccessKeys {
		secret, err := a.secret(k)
		if err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			err := a.putServiceKey(ctx, account, sv.Name, k.ID, secret)
			if attempt < 2 && (errors.Is(err, ErrExists) || errors.Is(err, store.ErrConflict)) {
				continue // another node applying the file wrote it meanwhile
			}
			if err != nil {
				return fmt.Errorf("principals: access key %s: %w", k.ID, err)
			}
			break
		}
	}
	return nil
}

// putServiceKey makes akid an access key of service's principal in
// account with secret. An access key ID that is another principal's is
// not applied (skipped).
func (a *applier) putServiceKey(ctx context.Context, account, service, akid, secret string) error {
	d := a.d
	rec, err := d.store.Get(ctx, KindAccessKey, akid)
	switch {
	case err == nil:
		id, _, err := d.load(ctx, akid)
		if err != nil {
			return err
		}
		if id.doc.Account != account || id.doc.Type != TypeAWSService || id.doc.Service != service {
			a.skip(account, "access key", akid, "the access key ID belongs to another principal")
			return nil
		}
		if subtle.ConstantTimeCompare(id.secret, []byte(secret)) == 1 {
			return nil
		}
		// The secret was rotated in the environment: replace the key.
		if err := d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: akid, Delete: true, IfVersion: rec.Version}); err != nil {
			return err
		}
		d.keys.Invalidate(akid)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return d.CreateAccessKey(ctx, AccessKey{ID: akid, Secret: secret, Account: account, Type: TypeAWSService, Service: service})
}

func servicesKeys(ss []DeclaredService) []DeclaredKey {
	var out []DeclaredKey
	for _, s := range ss {
		out = append(out, s.AccessKeys...)
	}
	return out
}

// pruneServices deletes every access key of a service principal that p
// does not declare (the same ID, for the same service of the same
// account). Only the principals file makes service principals, so it is
// their whole list: removing a service's key from the file and starting
// again is how an operator revokes a leaked or retired front end's
// credential. Each node drops the key from its cache through the change
// feed.
func (a *applier) pruneServices(ctx context.Context, p *Principals) error {
	declared := map[string]bool{}
	for _, acc := range p.Accounts {
		for _, sv := range acc.Services {
			for _, k := range sv.AccessKeys {
				declared[acc.ID+"/"+sv.Name+"/"+k.ID] = true
			}
		}
	}
	type stale struct {
		id      string
		version int64
	}
	var gone []stale
	err := store.Each(ctx, a.d.store, KindAccessKey, func(r store.Record) error {
		var doc struct {
			Account string `json:"account"`
			Type    string `json:"type"`
			Service string `json:"service"`
		}
		if err := json.Unmarshal(r.Data, &doc); err != nil {
			return fmt.Errorf("principals: access key %s: %w", r.ID, err)
		}
		if doc.Type == TypeAWSService && !declared[doc.Account+"/"+doc.Service+"/"+r.ID] {
			gone = append(gone, stale{r.ID, r.Version})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range gone {
		err := a.d.store.Apply(ctx, store.Op{Kind: KindAccessKey, ID: k.id, Delete: true, IfVersion: k.version})
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("principals: removing access key %s of a service no longer declared: %w", k.id, err)
		}
		a.d.keys.Invalidate(k.id)
	}
	return nil
}
