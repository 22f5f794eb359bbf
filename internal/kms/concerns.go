package kms

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// # The concerns beside the core
//
// Grants (package grant), imported key material (keyimport), custom key
// stores (keystore) and background work (job) are built over a *Service
// and registered with it when they are built. The core defines what it
// needs of them here, and they implement it.

// KeyRecords is implemented by a concern that keeps store records about
// keys (grants, usage notes): they are deleted with their key, in the same
// atomic write.
type KeyRecords interface {
	// KeyDeletionOps returns the operations that delete the records of key
	// keyID. An operation conditioned on a record's version makes the
	// deletion conflict (and run again later) if a writer changes that
	// record meanwhile. Errors are store failures.
	KeyDeletionOps(ctx context.Context, keyID string) ([]store.Op, error)
}

// AddKeyRecords registers r, whose records go with every key deleted from
// then on. Concerns call it when they are built.
func (s *Service) AddKeyRecords(r KeyRecords) { s.keyRecords = append(s.keyRecords, r) }

// Grants is the grant half of authorization (package grant implements it).
// The core asks it only when the key's policies alone do not allow a
// request, and checks grant tokens through it on every request that
// carries some.
type Grants interface {
	// CheckTokens returns InvalidGrantTokenException if a token is not one
	// this service issued.
	CheckTokens(tokens []string) error
	// Allowing returns the ID of a grant on key k that lets the caller in
	// ctx perform action, given the request's conditions (its encryption
	// context, for grant constraints) and grant tokens, or "" if none does.
	// Errors are InvalidGrantTokenException and store failures as a client
	// sees them.
	Allowing(ctx context.Context, k *Key, action string, conds map[string][]string, tokens []string) (string, error)
}

// SetGrants makes g the grant half of authorization. Package grant calls it
// when it is built, before the node serves.
func (s *Service) SetGrants(g Grants) { s.grants = g }

// noGrants is the Grants of a Service without the grant concern: no grant
// exists, so no grant token is valid.
type noGrants struct{}

func (noGrants) CheckTokens(tokens []string) error {
	if len(tokens) > 0 {
		return awserr.New(awserr.InvalidGrantToken, "Invalid grant token.")
	}
	return nil
}

func (noGrants) Allowing(context.Context, *Key, string, map[string][]string, []string) (string, error) {
	return "", nil
}
