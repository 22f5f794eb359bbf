package main

import (
	"os"

	"github.com/trentkms/trent/internal/audit"
)

// runAudit implements "trent audit [list|verify] ...". It returns
// audit.ErrVerifyFailed when verification finds a problem, so that main
// exits non-zero.
func runAudit(args []string) error {
	return audit.Run(args, os.Stdout, os.Stderr)
}
