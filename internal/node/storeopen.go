package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres"
)

// openPostgres opens the shared PostgreSQL store of a cluster and migrates
// its schema. Several nodes may start at once: the store migrates under an
// advisory lock, so exactly one of them applies each migration.
//
// It fails at once, with an error wrapping store.ErrUnavailable, when the
// database cannot be reached; a supervisor (systemd, Kubernetes) restarts
// the node, and /readyz keeps a load balancer away meanwhile. The URL is
// never echoed back, because it may carry a password.
func openPostgres(url string) (store.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return nil, fmt.Errorf("store: PostgreSQL is unreachable: %w", err)
		}
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	return st, nil
}

// storeOpenTimeout bounds connecting to and migrating the database at
// start-up. A migration waits for another node's migration lock, so it is
// generous.
const storeOpenTimeout = 30 * time.Second
