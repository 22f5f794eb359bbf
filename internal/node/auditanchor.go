package node

import (
	"fmt"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
)

// AuditDataDir gives `trent audit` a data directory's trail and anchors,
// read from cfg (the --config file, with --data-dir and --store applied)
// as `trent serve` reads them. It needs no root key: anchors are not
// secret.
func AuditDataDir(load func(configPath, dataDir, storeURL string) (*config.File, error)) audit.DataDir {
	return audit.DataDir{
		TrailDir: func(configPath, dataDir, storeURL string) (string, string, error) {
			cfg, err := load(configPath, dataDir, storeURL)
			if err != nil {
				return "", "", err
			}
			if err := cfg.Validate(); err != nil {
				return "", "", err
			}
			return cfg.Audit.Dir, AuditNode(cfg), nil
		},
		OpenAnchor: func(configPath, dataDir, storeURL string) (audit.Anchor, func(), error) {
			cfg, err := load(configPath, dataDir, storeURL)
			if err != nil {
				return nil, nil, err
			}
			if err := cfg.Validate(); err != nil {
				return nil, nil, err
			}
			// Opening would create an empty database, whose missing
			// anchors would pass for a new installation.
			st, err := OpenExistingStore(cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: the trail anchors are in it", err)
			}
			if _, sqlite := SQLitePath(cfg); sqlite {
				return audit.DataDirAnchor{StoreAnchor: audit.StoreAnchor{Store: st}}, func() { st.Close() }, nil
			}
			return audit.StoreAnchor{Store: st}, func() { st.Close() }, nil
		},
	}
}
