package kms

import (
	"context"

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
