package main

import (
	"os"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/server"
)

// runAudit implements "trent audit [list|verify] ...". It returns
// audit.ErrVerifyFailed when verification finds a problem, so that main
// exits non-zero.
func runAudit(args []string) error {
	return audit.RunWith(args, os.Stdout, os.Stderr, server.AuditDataDir(auditConfig))
}

// auditConfig reads the configuration of a data directory as `trent serve`
// does: the file, then --data-dir and --store over it.
func auditConfig(configPath, dataDir, storeURL string) (*config.File, error) {
	cfg := &config.File{}
	if configPath != "" {
		f, err := config.Load(configPath)
		if err != nil {
			return nil, err
		}
		cfg = f
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	if storeURL != "" {
		cfg.Store = storeURL
	}
	return cfg, nil
}
