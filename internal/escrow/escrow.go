package escrow

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/shamir"
)

var (
	// ErrTooFew is returned (wrapped) by Recover when fewer shares than the
	// threshold are given.
	ErrTooFew = errors.New("escrow: too few shares")
	// ErrMismatch is returned (wrapped) by Recover for shares that are not
	// of one escrow, or two different shares with one index.
	ErrMismatch = errors.New("escrow: shares do not belong together")
	// ErrDuplicate is returned (wrapped) by Recover for a share given twice.
	ErrDuplicate = errors.New("escrow: share given twice")
	// ErrWrongKey is returned (wrapped) by Recover when the rebuilt keys do
	// not have the IDs the shares name: a share was altered or forged.
	ErrWrongKey = errors.New("escrow: the rebuilt key is not the escrowed one")
)

// Split splits keys (in key file order, each KeySize bytes with its ID)
// into n shares, any k of which rebuild them, drawing the escrow set and
// the polynomials from random. It requires 2 <= k <= n <= 255.
func Split(random io.Reader, keys []rootkey.Key, n, k int) ([]*Share, error) {
	if len(keys) == 0 || len(keys) > 255 {
		return nil, fmt.Errorf("escrow: %d root keys; want 1 to 255", len(keys))
	}
	if k < 2 || k > n || n > 255 {
		return nil, fmt.Errorf("escrow: want 2 <= threshold <= shares <= 255, have threshold %d and %d shares", k, n)
	}
	ids := make([]string, len(keys))
	secret := make([]byte, 0, KeySize*len(keys))
	defer func() { clear(secret) }()
	for i, key := range keys {
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("escrow: root key %s is %d bytes, want %d", key.ID, len(key.Secret), KeySize)
		}
		if !validID(key.ID) || subtle.ConstantTimeCompare([]byte(key.ID), []byte(rootkey.ID(key.Secret))) != 1 {
			return nil, fmt.Errorf("escrow: the key given as root key %q has another ID", key.ID)
		}
		ids[i] = key.ID
		secret = append(secret, key.Secret...)
	}
	var set [setSize]byte
	if _, err := io.ReadFull(random, set[:]); err != nil {
		return nil, fmt.Errorf("escrow: random: %w", err)
	}
	parts, err := shamir.Split(random, secret, n, k)
	if err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	shares := make([]*Share, n)
	for i, p := range parts {
		shares[i] = &Share{Set: set, Threshold: k, Total: n, Index: int(p.X), KeyIDs: ids, Y: p.Y}
	}
	return shares, nil
}

// Recover rebuilds the root keys from shares of one escrow, in key file
// order. It returns an error wrapping ErrMismatch if the shares are of
// different escrows or two differ under one index, ErrDuplicate if one is
// given twice, ErrTooFew if fewer than the threshold are given, and
// ErrWrongKey if the rebuilt keys do not have the IDs the shares name.
// Errors name shares by index and never show share bytes.
func Recover(shares []*Share) ([]rootkey.Key, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrTooFew)
	}
	first := shares[0]
	byIndex := map[int]*Share{}
	parts := make([]shamir.Share, 0, len(shares))
	for _, s := range shares {
		if !equalHeader(first, s) {
			if s.Set != first.Set {
				return nil, fmt.Errorf("%w: share %d is of escrow set %s, share %d of set %s", ErrMismatch, first.Index, first.SetID(), s.Index, s.SetID())
			}
			return nil, fmt.Errorf("%w: shares %d and %d of escrow set %s disagree on the threshold, count or root key IDs", ErrMismatch, first.Index, s.Index, s.SetID())
		}
		if len(s.Y) != KeySize*len(s.KeyIDs) || s.Index < 1 || s.Index > s.Total {
			return nil, fmt.Errorf("%w: share %d", ErrMalformed, s.Index)
		}
		if o, ok := byIndex[s.Index]; ok {
			if subtle.ConstantTimeCompare(o.Y, s.Y) == 1 {
				return nil, fmt.Errorf("%w: share %d of escrow set %s", ErrDuplicate, s.Index, s.SetID())
			}
			return nil, fmt.Errorf("%w: two different shares %d of escrow set %s", ErrMismatch, s.Index, s.SetID())
		}
		byIndex[s.Index] = s
		parts = append(parts, shamir.Share{X: byte(s.Index), Y: s.Y})
	}
	if len(parts) < first.Threshold {
		return nil, fmt.Errorf("%w: %d given; any %d of the %d shares of escrow set %s rebuild %s",
			ErrTooFew, len(parts), first.Threshold, first.Total, first.SetID(), strings.Join(first.KeyIDs, ", "))
	}
	secret, err := shamir.Combine(parts)
	if err != nil {
		return nil, fmt.Errorf("escrow: %w", err)
	}
	keys := make([]rootkey.Key, len(first.KeyIDs))
	for i, id := range first.KeyIDs {
		k := secret[i*KeySize : (i+1)*KeySize : (i+1)*KeySize]
		if subtle.ConstantTimeCompare([]byte(rootkey.ID(k)), []byte(id)) != 1 {
			clear(secret)
			return nil, fmt.Errorf("%w: the shares name root key %s, but rebuild another: a share was altered or is not of this escrow", ErrWrongKey, id)
		}
		keys[i] = rootkey.Key{ID: id, Secret: k}
	}
	return keys, nil
}
