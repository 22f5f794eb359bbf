package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

const rootKeyUsage = `usage: trent root-key move [--data-dir DIR] [--config FILE] [--from PATH] [--to PATH]
       trent root-key escrow --shares N --threshold K --out DIR [--recipient age1... ...]
       trent root-key recover --out PATH [--identity FILE ...] --share FILE ...

Moves the root key file of an installation, with its server stopped. The
default moves DATA_DIR/root.key, where Trent kept the key before, to
$XDG_CONFIG_HOME/trent/root.key (~/.config/trent/root.key), where
` + "`trent serve`" + ` looks for it by default, so that a copy of the data directory
no longer carries the key that unseals it. The new file is written and
synced before the old one is overwritten and removed; the destination must
not exist. With --to elsewhere, start the server with --root-key-file PATH
(or root_key.file in the configuration file).

escrow splits the root key into shares for custodians, and recover
rebuilds it from them (trent root-key escrow -h, recover -h; docs/escrow.md).
`

// runRootKey implements "trent root-key move", "escrow" and "recover".
func runRootKey(args []string, env config.Env, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, rootKeyUsage)
		if len(args) == 0 {
			return errors.New("root-key: missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "escrow":
		return runEscrow(args[1:], env, out)
	case "recover":
		return runRecover(args[1:], out)
	case "move":
	default:
		return fmt.Errorf("root-key: unknown subcommand %q\n\n%s", args[0], rootKeyUsage)
	}
	fs := flag.NewFlagSet("root-key move", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the server's YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory (default "+config.DefaultDataDir()+")")
	from := fs.String("from", "", "key file to move (default DATA_DIR/root.key, else root_key.file)")
	to := fs.String("to", "", "new place (default "+defaultRootKeyFile()+")")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("root-key move: unexpected arguments %q", fs.Args())
	}
	cfg, err := loadConfig(*cfgPath, *dataDir, "")
	if err != nil {
		return err
	}
	res, err := node.MoveRootKey(cfg, *from, *to)
	if err != nil {
		return fmt.Errorf("root-key move: %w", err)
	}
	fmt.Fprintf(out, "root key file moved: %s -> %s (root key %s)\n", res.From, res.To, strings.Join(res.IDs, ", "))
	switch {
	case cfg.RootKey.File != "" && cfg.RootKey.File != res.To:
		fmt.Fprintf(out, "Set root_key.file: %s in %s (it names %s), then start the server.\n", res.To, *cfgPath, cfg.RootKey.File)
	case res.Default:
		fmt.Fprintf(out, "`trent serve` finds it there by default; start the server as before.\n")
	default:
		fmt.Fprintf(out, "Start the server with --root-key-file %s (or root_key.file in its configuration file).\n", res.To)
	}
	return nil
}
