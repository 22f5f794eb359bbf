package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

// runRotateRootKey runs `trent rotate-root-key`: online root-key rotation
// against the data directory and root key provider of a deployment, while
// its servers keep running (see docs/hsm.md).
func runRotateRootKey(args []string, env config.Env) error {
	fs := flag.NewFlagSet("rotate-root-key", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the servers' YAML configuration file (required)")
	dataDir := fs.String("data-dir", "", "override the data directory")
	settle := fs.Duration("settle", 3*time.Second, "time running servers get to switch to the new root key")
	keepOld := fs.Bool("keep-old", false, "do not retire the old root key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("rotate-root-key: --config is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := node.RotateRootKey(ctx, cfg, node.RotateOptions{Settle: *settle, KeepOld: *keepOld, HSM: env.HSM,
		Progress: func(n int) {
			if n%1000 == 0 {
				fmt.Fprintf(os.Stderr, "rotate-root-key: %d records re-sealed\n", n)
			}
		}})
	if err != nil {
		return err
	}
	fmt.Printf("root key rotated: %s -> %s; %d records re-sealed in %d passes; old key retired: %v\n",
		res.Old, res.New, res.Resealed, res.Passes, res.Retired)
	return nil
}
