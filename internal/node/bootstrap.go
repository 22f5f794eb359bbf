package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/store"
)

const (
	kindBootstrap = "bootstrap"
	credFileName  = "admin-credentials"
)

// bootstrap makes sure the administrator credential exists. At first start
// it is taken from the environment (Options.Env) or generated and written once
// to a 0600 file outside the data directory (writeCredentialsFile). Its
// principal is the account root.
func (n *Node) bootstrap(opt Options) error {
	ctx := context.Background()
	rec, err := n.Store.Get(ctx, kindBootstrap, "admin")
	if err == nil {
		n.AdminAccessKeyID = string(rec.Data)
		if opt.Env.AccessKeyID != "" && opt.Env.AccessKeyID != n.AdminAccessKeyID {
			exists, err := n.Directory.Exists(ctx, opt.Env.AccessKeyID)
			if err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("TRENT_ACCESS_KEY_ID %s differs from the administrator credential this data directory was created with (%s); unset it or use a fresh data directory", opt.Env.AccessKeyID, n.AdminAccessKeyID)
			}
		}
		n.AdminCredentialsFile = n.findCredentialsFile()
		if n.AdminCredentialsFile != "" && filepath.Dir(n.AdminCredentialsFile) == filepath.Clean(n.Config.DataDir) {
			n.log.Warn("the administrator credential file is in the data directory, so every copy of the data directory carries a working administrator credential: move it out (or delete it once it is kept elsewhere)", "file", n.AdminCredentialsFile)
		}
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	akid, secret := opt.Env.AccessKeyID, opt.Env.SecretAccessKey
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
		content := fmt.Sprintf("# Trent administrator credential (account root of %s, data directory %s). Keep this file secret.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", n.Config.AccountID, n.Config.DataDir, akid, secret)
		path, err := n.writeCredentialsFile(akid, []byte(content))
		if err != nil {
			return fmt.Errorf("write the generated administrator credential: %w (set XDG_CONFIG_HOME to a writable directory, or choose the credential with TRENT_ACCESS_KEY_ID and TRENT_SECRET_ACCESS_KEY)", err)
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

// writeCredentialsFile writes a generated administrator credential, mode
// 0600, outside the data directory (so that a copy of the data directory
// does not carry it): config.ConfigDir()/admin-credentials, or
// admin-credentials-AKID there if another installation's file has that
// name. Without a configuration directory (no home directory) it falls
// back to the data directory.
func (n *Node) writeCredentialsFile(akid string, content []byte) (string, error) {
	dir := config.ConfigDir()
	if dir == "" {
		path := filepath.Join(n.Config.DataDir, credFileName)
		n.log.Warn("no home directory or XDG_CONFIG_HOME: the administrator credential file goes into the data directory; move it out", "file", path)
		return path, writeFileSync(path, content, 0o600)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for _, name := range []string{credFileName, credFileName + "-" + akid} {
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(content)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("%s and %s-%s exist", filepath.Join(dir, credFileName), filepath.Join(dir, credFileName), akid)
}

// findCredentialsFile returns the generated administrator credential file
// of this installation, if it is still where writeCredentialsFile (or an
// older Trent, in the data directory) put it, for the banner.
func (n *Node) findCredentialsFile() string {
	var paths []string
	if dir := config.ConfigDir(); dir != "" {
		paths = append(paths, filepath.Join(dir, credFileName+"-"+n.AdminAccessKeyID), filepath.Join(dir, credFileName))
	}
	paths = append(paths, filepath.Join(n.Config.DataDir, credFileName))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "aws_access_key_id = "+n.AdminAccessKeyID+"\n") {
			clear(b)
			return p
		}
		clear(b)
	}
	return ""
}
