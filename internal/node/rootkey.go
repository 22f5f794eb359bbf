package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/dirlock"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// rootOptions say how a command may open the root key.
type rootOptions struct {
	// hex is TRENT_ROOT_KEY ("" when unset).
	hex string
	// hsm are the PKCS#11 settings of the environment.
	hsm config.HSMEnv
	// create allows the file provider to make a new key file, which it
	// does only for a store no root key has sealed yet (`trent serve`).
	create bool
	log    *slog.Logger
}

// openRoot opens the root key provider that cfg (and TRENT_ROOT_KEY)
// selects and checks that it opens what st holds. Every command that needs
// the root key (serve, admin, rotate-root-key) comes through here, so that
// they all find the same key and refuse the same mistakes:
//
//   - a key file inside the data directory (or the audit directory or the
//     SQLite database's directory) unless root_key.allow_in_data_dir is
//     set, and an installation whose key file is still at its old place
//     DATA_DIR/root.key: the error names the `trent root-key move` command
//     that fixes it;
//   - a missing key file when the store was already sealed (a new key would
//     open nothing): only a fresh store gets a new key;
//   - a root key that cannot open the store's canary: the error
//     (*reseal.MismatchError) names the root key IDs the node has and the
//     one the store needs.
//
// It returns the provider and a description of where the key came from.
func openRoot(ctx context.Context, cfg *config.File, st store.Store, o rootOptions) (rootkey.Provider, string, error) {
	root, source, err := selectRoot(ctx, cfg, st, o)
	if err != nil {
		return nil, "", err
	}
	if err := checkRoot(ctx, cfg, st, root); err != nil {
		root.Close()
		return nil, "", err
	}
	return root, source, nil
}

// OpenRootKey opens the root key provider that cfg and env (RootKey, the
// PKCS#11 settings) select, as `trent serve` finds it and with the same
// refusals (a key file inside the data directory, a stray key file there),
// but checks it against no store and never creates a key file: for a
// command that checks the key against something else (`trent restore`,
// against the backup's canary). It returns the provider and a description
// of where the key came from.
func OpenRootKey(cfg *config.File, env config.Env) (rootkey.Provider, string, error) {
	return selectRoot(context.Background(), cfg, nil, rootOptions{hex: env.RootKey, hsm: env.HSM})
}

// selectRoot opens the provider cfg and o select; st (nil: none) says
// whether a missing key file may be created (see openRootFile).
func selectRoot(ctx context.Context, cfg *config.File, st store.Store, o rootOptions) (rootkey.Provider, string, error) {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.hex != "":
		if err := noStrayKeyFile(cfg, "TRENT_ROOT_KEY"); err != nil {
			return nil, "", err
		}
		k, err := rootkey.KeyFromHex(o.hex)
		if err != nil {
			return nil, "", err
		}
		root, err := rootkey.NewStatic(k)
		clear(k)
		return root, "TRENT_ROOT_KEY", err
	case cfg.RootKey.Provider == "file":
		path, err := rootKeyFile(cfg)
		if err != nil {
			return nil, "", err
		}
		root, err := openRootFile(ctx, st, path, o.create, o.log)
		return root, path, err
	case cfg.RootKey.Provider == "pkcs11":
		if err := noStrayKeyFile(cfg, "the PKCS#11 token"); err != nil {
			return nil, "", err
		}
		if err := pinFileOutside(cfg, o.log); err != nil {
			return nil, "", err
		}
		root, err := openPKCS11(cfg, o.hsm)
		return root, "PKCS#11 token", err
	}
	return nil, "", fmt.Errorf("root key provider %q is not one of file, pkcs11", cfg.RootKey.Provider)
}

// rootKeyFile resolves the file provider's key file (config.RootKeyPath)
// and refuses one inside a directory that holds the sealed state, and an
// installation whose key is still at DATA_DIR/root.key.
func rootKeyFile(cfg *config.File) (string, error) {
	path, explicit, err := cfg.RootKeyPath()
	if err != nil {
		return "", err
	}
	legacy := config.LegacyRootKeyFile(cfg.DataDir)
	if !explicit && exists(legacy) {
		if !cfg.RootKey.AllowInDataDir {
			return "", fmt.Errorf("the root key of this installation is inside its data directory (%s), so every copy of the data directory (a backup, a snapshot) carries the key that unseals it. "+
				"Move it out, with the server stopped, by running:\n\n    trent root-key move --data-dir %s\n\n"+
				"which moves it to %s, where `trent serve` looks by default (or add --to PATH and start with --root-key-file PATH); see docs/threat-model.md",
				legacy, cfg.DataDir, path)
		}
		path = legacy
	}
	if explicit && resolve(path) != resolve(legacy) {
		if err := noStrayKeyFile(cfg, path); err != nil {
			return "", err
		}
	}
	if where, inside := insideState(cfg, path); inside && !cfg.RootKey.AllowInDataDir {
		return "", fmt.Errorf("the root key file %s is inside the %s, so every copy of it (a backup, a snapshot) would carry the key that unseals it. "+
			"Keep the key elsewhere (--root-key-file / root_key.file); to move an existing key file, with the server stopped, run:\n\n    trent root-key move --data-dir %s --from %s --to PATH\n\n"+
			"(root_key.allow_in_data_dir accepts it, unsafely; see docs/threat-model.md)", path, where, cfg.DataDir, path)
	}
	return path, nil
}

// noStrayKeyFile refuses a root key file left at DATA_DIR/root.key while
// the root key comes from elsewhere (using): every copy of the data
// directory would carry it, though the node does not even read it.
func noStrayKeyFile(cfg *config.File, using string) error {
	legacy := config.LegacyRootKeyFile(cfg.DataDir)
	if cfg.RootKey.AllowInDataDir || !exists(legacy) {
		return nil
	}
	return fmt.Errorf("a root key file is inside the data directory (%s), although this node's root key comes from %s: every copy of the data directory carries it. "+
		"If it is a copy of the key in use or an old key no store needs, delete it; to keep it, move it out with the server stopped:\n\n    trent root-key move --data-dir %s --to PATH\n\n(see docs/threat-model.md)", legacy, using, cfg.DataDir)
}

// pinFileOutside refuses a PKCS#11 PIN file inside a directory that holds
// sealed state, as rootKeyFile refuses a key file there: the token's PIN
// is what stands between whoever holds the token (a SoftHSM token
// directory, a network HSM reachable from the host) and the root key, so a
// copy of the data directory must not carry it. It warns if others than
// its owner can read it.
func pinFileOutside(cfg *config.File, log *slog.Logger) error {
	pin := cfg.RootKey.PINFile
	if pin == "" {
		return nil
	}
	if where, inside := insideState(cfg, pin); inside && !cfg.RootKey.AllowInDataDir {
		return fmt.Errorf("the PKCS#11 PIN file %s is inside the %s, so every copy of it (a backup, a snapshot) would carry the PIN that opens the token's root key. "+
			"Keep it elsewhere (root_key.pkcs11_pin_file) or give the PIN in TRENT_HSM_PIN (root_key.allow_in_data_dir accepts it, unsafely; see docs/threat-model.md)", pin, where)
	}
	if fi, err := os.Stat(pin); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the PKCS#11 PIN file can be read by other users than its owner; chmod 600 it", "file", pin, "mode", fi.Mode().Perm().String())
	}
	return nil
}

// openRootFile opens the key file at path, or creates it if create is set
// and st holds nothing sealed yet. Without a store (st nil) it creates
// none.
func openRootFile(ctx context.Context, st store.Store, path string, create bool, log *slog.Logger) (rootkey.Provider, error) {
	p, err := rootkey.OpenFile(path)
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the root key file can be read by other users than its owner; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
		}
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("the root key file %s does not exist: put the installation's key file there, or name it with --root-key-file / root_key.file or TRENT_ROOT_KEY; "+
			"a lost key file is rebuilt from its escrow shares with `trent root-key recover` (docs/escrow.md)", path)
	}
	need, sealed, err := storeSealedBy(ctx, st)
	if err != nil {
		return nil, err
	}
	if sealed {
		return nil, fmt.Errorf("the root key file %s does not exist, but the store was sealed under root key %s: "+
			"restore that key file there, or start with --root-key-file / root_key.file or TRENT_ROOT_KEY naming it (a new key would open nothing)", path, need)
	}
	if !create {
		return nil, fmt.Errorf("the root key file %s does not exist: start `trent serve` once first", path)
	}
	p, err = rootkey.CreateFile(path)
	if err != nil {
		return nil, fmt.Errorf("create the root key file: %w (choose where it goes with --root-key-file / root_key.file)", err)
	}
	return p, nil
}

// storeSealedBy reports whether st holds secrets sealed by a root key, and
// which key if the store says (its canary).
func storeSealedBy(ctx context.Context, st store.Store) (need string, sealed bool, err error) {
	need, err = reseal.CanaryNeeds(ctx, st)
	if err == nil {
		return need, true, nil
	}
	if !errors.Is(err, reseal.ErrNoCanary) {
		return "", false, err
	}
	rec, err := st.Get(ctx, kindBootstrap, "admin")
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	// A store written before canaries: the administrator's sealed secret
	// names its root key (reading it needs no root key).
	need = "(unknown)"
	if blob, _, err := iam.New(st, nil, "aws", nil).SealedSecret(ctx, string(rec.Data)); err == nil {
		if id, err := rootkey.SealedBy(blob); err == nil {
			need = id
		}
	}
	return need, true, nil
}

// checkRoot checks that root opens what st holds: the canary, or, in a
// store written before canaries, the bootstrap administrator's sealed
// secret; then it records a canary if the store has none.
func checkRoot(ctx context.Context, cfg *config.File, st store.Store, root rootkey.Provider) error {
	err := reseal.CheckCanary(ctx, st, root)
	if !errors.Is(err, reseal.ErrNoCanary) {
		return err
	}
	if rec, err := st.Get(ctx, kindBootstrap, "admin"); err == nil {
		blob, aad, err := iam.New(st, root, arn.PartitionOf(cfg.Region), nil).SealedSecret(ctx, string(rec.Data))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			if err := reseal.CheckSealed(root, "administrator access key", blob, aad); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return reseal.WriteCanary(ctx, st, root)
}

// insideState reports whether path lies inside a directory that holds
// sealed state a copy of which must not carry the root key: the data
// directory, the audit directory, the SQLite database's directory. It
// returns which.
func insideState(cfg *config.File, path string) (string, bool) {
	dirs := []struct{ what, dir string }{
		{"data directory " + cfg.DataDir, cfg.DataDir},
		{"audit directory " + cfg.Audit.Dir, cfg.Audit.Dir},
	}
	if db, ok := SQLitePath(cfg); ok {
		dirs = append(dirs, struct{ what, dir string }{"directory of the database " + db, filepath.Dir(db)})
	}
	p := resolve(path)
	for _, d := range dirs {
		if d.dir == "" {
			continue
		}
		rel, err := filepath.Rel(resolve(d.dir), p)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return d.what, true
		}
	}
	return "", false
}

// resolve makes path absolute with symbolic links resolved as far as the
// path exists, so that two names of one place compare equal.
func resolve(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		if filepath.Dir(p) == p {
			return abs
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lockFileName is the lock file `trent serve` holds in its data directory.
const lockFileName = "trent.lock"

// lockDataDir takes the data directory's lock and, for SQLite, the
// database's (DB.lock beside the database file, named by its path with
// symbolic links resolved), so that a second server on the same state is
// refused whatever its node ID and whatever name it gives the database: the
// same path, a symbolic link to the file or to a directory above it, or
// another data directory with --store naming this one's database. A
// database file with another hard link is refused too: a second server
// could open it by the other name, which no path comparison sees (and
// SQLite would keep a second -wal beside it). Admin commands do not take
// the locks: they are made to run beside a live server
// (docs/principals.md). The refusal ends with advice.
func lockDataDir(cfg *config.File, advice string) ([]*dirlock.Lock, error) {
	type lockPath struct{ path, what string }
	paths := []lockPath{{filepath.Join(cfg.DataDir, lockFileName), "data directory " + cfg.DataDir}}
	db, sqlite := SQLitePath(cfg)
	if sqlite {
		db = resolve(db)
		paths = append(paths, lockPath{db + ".lock", "database " + db})
	}
	var locks []*dirlock.Lock
	release := func() {
		for _, l := range locks {
			l.Release()
		}
	}
	for _, p := range paths {
		l, err := dirlock.Acquire(p.path)
		if err != nil {
			release()
			var le *dirlock.LockedError
			if errors.As(err, &le) {
				who := "another process"
				if le.PID > 0 {
					who = fmt.Sprintf("another process (PID %d)", le.PID)
				}
				return nil, fmt.Errorf("the %s is in use: %s holds its lock %s. %s", p.what, who, p.path, advice)
			}
			return nil, err
		}
		locks = append(locks, l)
	}
	if sqlite {
		if fi, err := os.Stat(db); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				release()
				return nil, fmt.Errorf("the database %s has %d hard links: a server given another of its names would not see this one's lock and would corrupt it. "+
					"Remove the other links (find / -samefile %s) or give each server a copy of its own", db, st.Nlink, db)
			}
		}
	}
	return locks, nil
}

// MoveResult describes a root key move.
type MoveResult struct {
	From, To string
	// IDs are the root key IDs in the moved file.
	IDs []string
	// Default reports whether To is where `trent serve` looks when
	// root_key.file is not set.
	Default bool
}

// MoveRootKey moves the root key file of the installation cfg describes to
// to ("" means config.DefaultRootKeyFile()), from from ("" means
// DATA_DIR/root.key, the place older Trents used, or else root_key.file).
// It takes the data directory's lock, so it refuses to run while a server
// runs there. The destination must not exist and must not be inside the
// data directory (unless root_key.allow_in_data_dir); the move is
// rootkey.MoveFile's: the new file is durable before the old one goes.
func MoveRootKey(cfg *config.File, from, to string) (MoveResult, error) {
	if err := cfg.Validate(); err != nil {
		return MoveResult{}, err
	}
	if cfg.RootKey.Provider != "file" {
		return MoveResult{}, fmt.Errorf("root key provider is %s: there is no key file to move", cfg.RootKey.Provider)
	}
	if !exists(cfg.DataDir) {
		return MoveResult{}, fmt.Errorf("data directory %s does not exist", cfg.DataDir)
	}
	if from == "" {
		from = config.LegacyRootKeyFile(cfg.DataDir)
		if !exists(from) && cfg.RootKey.File != "" {
			from = cfg.RootKey.File
		}
	}
	def := config.DefaultRootKeyFile()
	if to == "" {
		if def == "" {
			return MoveResult{}, errors.New("no home directory or XDG_CONFIG_HOME: name the destination with --to")
		}
		to = def
	}
	if where, inside := insideState(cfg, to); inside && !cfg.RootKey.AllowInDataDir {
		return MoveResult{}, fmt.Errorf("%s is inside the %s; choose a place outside it", to, where)
	}
	if resolve(from) == resolve(to) {
		return MoveResult{}, fmt.Errorf("the root key file is already at %s", to)
	}
	locks, err := lockDataDir(cfg, "Stop the server first: trent root-key move runs with the server stopped.")
	if err != nil {
		return MoveResult{}, err
	}
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	if !exists(from) {
		return MoveResult{}, fmt.Errorf("no root key file at %s; name the one to move with --from", from)
	}
	keys := from
	if rootkey.Overwritten(from) {
		keys = to // an interrupted move: MoveFile finishes it
	}
	p, err := rootkey.OpenFile(keys)
	if err != nil {
		return MoveResult{}, err
	}
	ids := p.IDs()
	p.Close()
	if err := rootkey.MoveFile(from, to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return MoveResult{}, fmt.Errorf("%s already holds another root key file (another installation's?); it is left alone: choose another place with --to PATH and start with --root-key-file PATH", to)
		}
		return MoveResult{}, err
	}
	return MoveResult{From: from, To: to, IDs: ids, Default: def != "" && resolve(to) == resolve(def)}, nil
}
