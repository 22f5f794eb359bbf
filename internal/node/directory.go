package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/store"
)

// OpenDirectory opens the principal directory of an existing data
// directory without starting a server, for `trent admin`: the store and
// root key a server with cfg would use. It works while a server runs on the
// same store (SQLite in WAL mode or PostgreSQL): the server's change feed
// picks up what it writes. It refuses a data directory that no server has
// initialized, and a root key that cannot open what the store holds (see
// openRoot); env gives TRENT_ROOT_KEY and the PKCS#11 settings as for
// Start. It takes no lock: a running server keeps the data directory's.
// Close closes the store and the root key.
func OpenDirectory(cfg *config.File, env config.Env) (dir *iam.Directory, closeFn func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Get(context.Background(), kindBootstrap, "admin"); err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("data directory %s is not initialized: start `trent serve` once first", cfg.DataDir)
		}
		return nil, nil, err
	}
	root, _, err := openRoot(context.Background(), cfg, st, rootOptions{hex: env.RootKey, hsm: env.HSM})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return iam.New(st, root, arn.PartitionOf(cfg.Region), time.Now), func() { st.Close(); root.Close() }, nil
}
