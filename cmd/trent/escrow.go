package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/escrow"
	"github.com/trentkms/trent/internal/rootkey"
)

const escrowUsage = `usage: trent root-key escrow --shares N --threshold K --out DIR
           [--recipient age1... ... | --recipients-file FILE]
           [--root-key-file PATH | --config FILE | --data-dir DIR]

Splits the root key into N shares, any K of which rebuild it (Shamir's
secret sharing over GF(256)), and writes them into DIR, which must be new
or empty: DIR/share-I-of-N.txt, or, with one age recipient per share (share
I to the I-th; X25519 "age1..." or post-quantum hybrid "age1pq1..."),
DIR/share-I-of-N.age encrypted to it. The key comes from --root-key-file,
else TRENT_ROOT_KEY, else the key file the configuration names (as for
` + "`trent serve`" + `). A root key in a PKCS#11 token never leaves it: back it up
with the HSM's own tools (docs/escrow.md). Rebuild with
` + "`trent root-key recover`" + `.
`

const recoverUsage = `usage: trent root-key recover --out PATH [--identity FILE ...] --share FILE ... [FILE ...]

Rebuilds the root key file from K shares of one escrow (files written by
` + "`trent root-key escrow`" + `; --share or plain arguments), decrypting age-encrypted
shares with the identity files given (--identity, as many as needed). It
refuses fewer than K shares, shares of different escrows, a damaged share,
and a rebuilt key whose ID is not the one the shares name, and writes a new
key file at PATH (mode 0600), never replacing one. Start the server with
--root-key-file PATH (or root_key.file). See docs/escrow.md.
`

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runEscrow implements "trent root-key escrow".
func runEscrow(args []string, env config.Env, out io.Writer) error {
	fs := flag.NewFlagSet("root-key escrow", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), escrowUsage+"\nflags:\n"); fs.PrintDefaults() }
	n := fs.Int("shares", 0, "number of shares N (2 to 255)")
	k := fs.Int("threshold", 0, "shares needed to rebuild K (2 to N)")
	dir := fs.String("out", "", "directory to write the shares into (new or empty)")
	var recipients multiFlag
	fs.Var(&recipients, "recipient", "age recipient of the next share (repeat, once per share)")
	recFile := fs.String("recipients-file", "", "file of age recipients, one per line, one per share in order")
	keyFile := fs.String("root-key-file", "", "the root key file (default: as `trent serve` finds it)")
	cfgPath := fs.String("config", "", "the server's YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("root-key escrow: unexpected arguments %q", fs.Args())
	}
	if *n == 0 || *k == 0 || *dir == "" {
		return errors.New("root-key escrow: --shares, --threshold and --out are required")
	}
	var recs []age.Recipient
	switch {
	case len(recipients) > 0 && *recFile != "":
		return errors.New("root-key escrow: give --recipient or --recipients-file, not both")
	case len(recipients) > 0:
		var err error
		if recs, err = escrow.ParseRecipients(strings.NewReader(strings.Join(recipients, "\n"))); err != nil {
			return fmt.Errorf("root-key escrow: %w", err)
		}
	case *recFile != "":
		f, err := os.Open(*recFile)
		if err != nil {
			return fmt.Errorf("root-key escrow: %w", err)
		}
		recs, err = escrow.ParseRecipients(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("root-key escrow: %s: %w", *recFile, err)
		}
	}
	if len(recs) != 0 && len(recs) != *n {
		return fmt.Errorf("root-key escrow: %d age recipients for %d shares: give one per share (share I goes to the I-th)", len(recs), *n)
	}
	keys, source, err := escrowKeys(*keyFile, *cfgPath, *dataDir, env.RootKey)
	if err != nil {
		return fmt.Errorf("root-key escrow: %w", err)
	}
	defer func() {
		for _, key := range keys {
			clear(key.Secret)
		}
	}()
	shares, err := escrow.Split(rand.Reader, keys, *n, *k)
	if err != nil {
		return fmt.Errorf("root-key escrow: %w", err)
	}
	files, err := escrow.Files(shares, recs)
	for _, s := range shares {
		clear(s.Y)
	}
	if err != nil {
		return fmt.Errorf("root-key escrow: %w", err)
	}
	err = escrow.WriteDir(*dir, files)
	for _, f := range files {
		clear(f.Data)
	}
	if err != nil {
		return fmt.Errorf("root-key escrow: %w", err)
	}
	ids := make([]string, len(keys))
	for i, key := range keys {
		ids[i] = key.ID
	}
	fmt.Fprintf(out, "root key %s (from %s) split into %d shares, any %d of which rebuild it (escrow set %s):\n",
		strings.Join(ids, ", "), source, *n, *k, shares[0].SetID())
	for _, f := range files {
		if f.Recipient != "" {
			fmt.Fprintf(out, "  %s/%s  encrypted to %s\n", *dir, f.Name, f.Recipient)
		} else {
			fmt.Fprintf(out, "  %s/%s  (not encrypted)\n", *dir, f.Name)
		}
	}
	fmt.Fprintf(out, "Give each share to its own custodian, then delete %s: keep no share beside the backups or another share. See docs/escrow.md.\n", *dir)
	return nil
}

// escrowKeys finds the root keys to escrow and says where they came from:
// --root-key-file, else TRENT_ROOT_KEY (rootHex), else the key file the
// configuration names, else the one `trent serve` would use.
func escrowKeys(keyFile, cfgPath, dataDir, rootHex string) ([]rootkey.Key, string, error) {
	if keyFile != "" {
		keys, err := rootkey.ReadKeyFile(keyFile)
		return keys, keyFile, err
	}
	if rootHex != "" {
		k, err := rootkey.KeyFromHex(rootHex)
		if err != nil {
			return nil, "", err
		}
		return []rootkey.Key{{ID: rootkey.ID(k), Secret: k}}, "TRENT_ROOT_KEY", nil
	}
	cfg, err := loadConfig(cfgPath, dataDir, "")
	if err != nil {
		return nil, "", err
	}
	if cfg.RootKey.Provider == "pkcs11" {
		return nil, "", errors.New("the root key of this installation is in a PKCS#11 token (root_key.provider: pkcs11) and never leaves it, so it cannot be split into shares: " +
			"back it up with the HSM's own backup or key replication, as docs/escrow.md (\"PKCS#11 root keys\") describes")
	}
	if cfg.RootKey.Provider != "" && cfg.RootKey.Provider != "file" {
		return nil, "", fmt.Errorf("root key provider %q is not one of file, pkcs11", cfg.RootKey.Provider)
	}
	path, explicit, err := cfg.RootKeyPath()
	if err != nil {
		return nil, "", err
	}
	if !explicit {
		// An installation whose key is still at its old place: serve
		// uses no other (it refuses to start until the key moves, or with
		// root_key.allow_in_data_dir uses it), so that is the key to keep.
		dd := cfg.DataDir
		if dd == "" {
			dd = config.DefaultDataDir()
		}
		if legacy := config.LegacyRootKeyFile(dd); fileExists(legacy) {
			path = legacy
		}
	}
	keys, err := rootkey.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("there is no root key file at %s, where the configuration puts it: name the installation's with --root-key-file PATH, --config FILE or --data-dir DIR", path)
	}
	return keys, path, err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// maxShareFile bounds what recover reads of a share file: an armored age
// file of the largest share is a few kilobytes.
const maxShareFile = 1 << 20

// runRecover implements "trent root-key recover".
func runRecover(args []string, out io.Writer) error {
	fset := flag.NewFlagSet("root-key recover", flag.ContinueOnError)
	fset.Usage = func() { fmt.Fprint(fset.Output(), recoverUsage+"\nflags:\n"); fset.PrintDefaults() }
	var shareFiles, identityFiles multiFlag
	fset.Var(&shareFiles, "share", "a share file (repeat)")
	fset.Var(&identityFiles, "identity", "an age identity file for encrypted shares (repeat)")
	dst := fset.String("out", "", "where to write the rebuilt root key file (must not exist)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	shareFiles = append(shareFiles, fset.Args()...)
	if *dst == "" {
		return errors.New("root-key recover: --out is required")
	}
	if len(shareFiles) == 0 {
		return errors.New("root-key recover: no share given (--share FILE)")
	}
	if fileExists(*dst) {
		return fmt.Errorf("root-key recover: %s exists; recover never replaces a key file", *dst)
	}
	var ids []age.Identity
	for _, p := range identityFiles {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("root-key recover: %w", err)
		}
		more, err := escrow.ParseIdentities(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("root-key recover: %s: %w", p, err)
		}
		ids = append(ids, more...)
	}
	shares := make([]*escrow.Share, 0, len(shareFiles))
	defer func() {
		for _, s := range shares {
			clear(s.Y)
		}
	}()
	for _, p := range shareFiles {
		data, err := readLimited(p, maxShareFile)
		if err != nil {
			return fmt.Errorf("root-key recover: %w", err)
		}
		s, err := escrow.ReadShare(data, ids)
		clear(data)
		if err != nil {
			return fmt.Errorf("root-key recover: %s: %w", p, err)
		}
		shares = append(shares, s)
	}
	keys, err := escrow.Recover(shares)
	if err != nil {
		return fmt.Errorf("root-key recover: %w", err)
	}
	defer func() {
		for _, key := range keys {
			clear(key.Secret)
		}
	}()
	if err := rootkey.WriteKeyFile(*dst, keys); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("root-key recover: %s exists; recover never replaces a key file", *dst)
		}
		return fmt.Errorf("root-key recover: %w", err)
	}
	ids2 := make([]string, len(keys))
	for i, key := range keys {
		ids2[i] = key.ID
	}
	s := shares[0]
	fmt.Fprintf(out, "root key %s rebuilt from %d shares of escrow set %s (any %d of %d) into %s.\n",
		strings.Join(ids2, ", "), len(shares), s.SetID(), s.Threshold, s.Total, *dst)
	fmt.Fprintf(out, "Start the server with --root-key-file %s (or root_key.file in its configuration file), or move the file to %s.\n",
		*dst, config.DefaultRootKeyFile())
	return nil
}

// readLimited reads the file at p, refusing one longer than limit.
func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, fmt.Errorf("%s is larger than a share file can be", p)
	}
	return data, nil
}
