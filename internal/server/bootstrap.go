package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/store"
)

const (
	kindBootstrap = "bootstrap"
	credFileName  = "admin-credentials"
)

// bootstrap makes sure the administrator credential exists. At first start
// it is taken from Options (the environment) or generated and written once
// to a 0600 file in the data directory. Its principal is the account root.
func (n *Node) bootstrap(opt Options) error {
	ctx := context.Background()
	rec, err := n.Store.Get(ctx, kindBootstrap, "admin")
	if err == nil {
		n.AdminAccessKeyID = string(rec.Data)
		if opt.AdminAccessKeyID != "" && opt.AdminAccessKeyID != n.AdminAccessKeyID {
			exists, err := n.Directory.Exists(ctx, opt.AdminAccessKeyID)
			if err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("TRENT_ACCESS_KEY_ID %s differs from the administrator credential this data directory was created with (%s); unset it or use a fresh data directory", opt.AdminAccessKeyID, n.AdminAccessKeyID)
			}
		}
		if _, err := os.Stat(filepath.Join(n.Config.DataDir, credFileName)); err == nil {
			n.AdminCredentialsFile = filepath.Join(n.Config.DataDir, credFileName)
		}
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	akid, secret := opt.AdminAccessKeyID, opt.AdminSecretAccessKey
	if (akid == "") != (secret == "") {
		return errors.New("set both TRENT_ACCESS_KEY_ID and TRENT_SECRET_ACCESS_KEY, or neither")
	}
	generated := akid == ""
	if generated {
		akid, secret = iam.NewAccessKeyID(false), iam.NewSecret()
	} else if len(akid) < 16 || len(akid) > 128 || strings.ContainsAny(akid, "/ =,") || len(secret) < 16 {
		return errors.New("TRENT_ACCESS_KEY_ID must be 16-128 characters without '/', ' ', '=' or ','; TRENT_SECRET_ACCESS_KEY at least 16 characters")
	}
	if generated {
		path := filepath.Join(n.Config.DataDir, credFileName)
		content := fmt.Sprintf("# Trent administrator credential (account root of %s). Keep this file secret.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", n.Config.AccountID, akid, secret)
		if err := writeFileSync(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write administrator credential: %w", err)
		}
		n.AdminCredentialsFile = path
	}
	err = n.Directory.CreateAccessKey(ctx, iam.AccessKey{ID: akid, Secret: secret, Account: n.Config.AccountID, Type: iam.TypeRoot})
	if err != nil && !errors.Is(err, iam.ErrExists) {
		return err
	}
	n.AdminAccessKeyID = akid
	err = n.Store.Apply(ctx, store.Op{Kind: kindBootstrap, ID: "admin", Data: []byte(akid), Create: true})
	if errors.Is(err, store.ErrExists) {
		// Another node of a cluster bootstrapped at the same moment; adopt
		// its record (the first branch above).
		return n.bootstrap(opt)
	}
	return err
}
