package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// Account is a registered account. The bootstrap administrator's account
// works without a record; records are written by CreateAccount and
// EnsureAccount (trent admin, the principals file).
type Account struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// CreateAccount registers a new account and creates its first root access
// key, returning the key and its secret. It returns ValidationError for an
// ID that is not 12 digits and EntityAlreadyExists if it is registered.
func (d *Directory) CreateAccount(ctx context.Context, id, name string) (AccessKeyInfo, string, error) {
	created, err := d.EnsureAccount(ctx, id, name)
	if err != nil {
		return AccessKeyInfo{}, "", err
	}
	if !created {
		return AccessKeyInfo{}, "", awserr.Newf(CodeEntityAlreadyExists, "Account %s already exists.", id)
	}
	return d.CreateRootAccessKey(ctx, id)
}

// EnsureAccount registers an account if it is not registered and reports
// whether it did.
func (d *Directory) EnsureAccount(ctx context.Context, id, name string) (bool, error) {
	if !arn.ValidAccountID(id) {
		return false, validation("The account ID %q must be 12 digits.", id)
	}
	data, _ := json.Marshal(Account{ID: id, Name: name, Created: d.now().UTC().Truncate(time.Second)})
	err := d.store.Apply(ctx, store.Op{Kind: KindAccount, ID: id, Data: data, Create: true})
	if errors.Is(err, store.ErrExists) {
		return false, nil
	}
	return err == nil, err
}

// ListAccounts returns the registered accounts in ID order.
func (d *Directory) ListAccounts(ctx context.Context) ([]Account, error) {
	recs, err := d.store.List(ctx, KindAccount, "", "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(recs))
	for _, r := range recs {
		var a Account
		if err := json.Unmarshal(r.Data, &a); err != nil {
			return nil, fmt.Errorf("iam: decode account %s: %w", r.ID, err)
		}
		out = append(out, a)
	}
	return out, nil
}
