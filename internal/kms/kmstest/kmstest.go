package kmstest

import (
	"testing"

	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/kms"
)

// Node is the domain of one node. The core's operations are its own
// (embedded); the concerns' are on their fields.
type Node struct {
	*kms.Service
	Grants  *grant.Service
	Imports *keyimport.Service
	Jobs    *job.Runner
}

// Config configures a Node. KMS.Store and KMS.Root are required.
type Config struct {
	KMS   kms.Config
	Grant grant.Config
	Job   job.Config
}

// New builds a node, failing t if it cannot. Its background work is not
// started (call n.Jobs.Start); whatever is started stops when t ends. The
// store is not closed.
func New(t testing.TB, cfg Config) *Node {
	t.Helper()
	svc, err := kms.New(cfg.KMS)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := job.New(svc, cfg.Job)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Close() })
	return &Node{Service: svc, Grants: grant.New(svc, cfg.Grant), Imports: keyimport.New(svc), Jobs: jobs}
}
