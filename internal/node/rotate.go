package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/reseal"
)

// RotateOptions configure RotateRootKey.
type RotateOptions struct {
	// Settle is how long running nodes get to switch to the new root key
	// (see reseal.Options); 0 means 3 s.
	Settle time.Duration
	// KeepOld keeps the old root key instead of retiring it.
	KeepOld bool
	// Progress, if set, is told how many records were re-sealed so far.
	Progress func(n int)
	// HSM are the PKCS#11 settings of the environment, used where the
	// configuration file leaves them out.
	HSM config.HSMEnv
}

// RotateRootKey rotates the root key of the deployment that cfg describes,
// online: it opens the same store and root key provider as the running
// nodes (SQLite allows a second process; with PKCS#11 both share the
// token), makes a new root key current, re-seals key materials, custom key
// store secrets, import parameters, access key secrets and the audit
// signing key, then retires the old root key. Running nodes switch to the
// new key through the change feed. It returns reseal.ErrNotRotatable
// (wrapped) for the file provider.
func RotateRootKey(ctx context.Context, cfg *config.File, o RotateOptions) (reseal.Result, error) {
	if err := cfg.Validate(); err != nil {
		return reseal.Result{}, err
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return reseal.Result{}, err
	}
	defer st.Close()
	root, _, err := openRoot(ctx, cfg, st, rootOptions{hsm: o.HSM})
	if err != nil {
		return reseal.Result{}, err
	}
	defer root.Close()
	services, err := newServices(kms.Config{Store: st, Root: root, Region: cfg.Region}, job.Config{}, keystore.Config{})
	if err != nil {
		return reseal.Result{}, err
	}
	dir := iam.New(st, root, services.KMS.Partition(), nil)
	// Every Region of the store: the others' records are under kinds of
	// their own (sharedregions.go).
	rs, err := regionResealers(ctx, st, root, cfg.Region)
	if err != nil {
		return reseal.Result{}, err
	}
	res, err := reseal.Rotate(ctx, reseal.Options{
		Store: st, Root: root, Resealers: append(append(resealers(&services), dir), rs...),
		Files:  []reseal.File{{Path: filepath.Join(cfg.DataDir, audit.SigningKeyFile), AAD: audit.SigningKeyAAD}},
		Settle: o.Settle, KeepOld: o.KeepOld, Progress: o.Progress,
	})
	if err != nil {
		return res, fmt.Errorf("rotate root key: %w", err)
	}
	return res, nil
}
