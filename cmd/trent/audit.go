package main

import (
	"os"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/node"
)

// runAudit implements "trent audit [list|verify] ...". It returns
// audit.ErrVerifyFailed when verification finds a problem, so that main
// exits non-zero.
func runAudit(args []string) error {
	return audit.RunWith(args, os.Stdout, os.Stderr, node.AuditDataDir(loadConfig))
}
