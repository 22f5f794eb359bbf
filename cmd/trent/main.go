// Command trent is a self-hosted key management service that speaks the
// AWS KMS API.
//
//	trent serve   run the server
//	trent audit   list and verify the audit trail
//	trent bench   load-test an AWS-KMS-compatible endpoint
//	trent admin   manage accounts and credentials
//	trent rotate-root-key  rotate the root key (PKCS#11) and reseal online
//	trent root-key move    move the root key file out of the data directory
//	trent root-key escrow  split the root key into shares; recover rebuilds it
//	trent xks-proxy        serve the XKS proxy API from a PKCS#11 token
//	trent k8s-kms-plugin   serve the Kubernetes KMS v2 plugin API with a Trent key
//	trent backup  back up an installation while it serves; verify a backup
//	trent restore restore a backup into an empty data directory
//	trent migrate move an installation between SQLite and PostgreSQL
//	trent version print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/trentkms/trent/internal/config"
)

const usage = `usage: trent <command> [flags]

commands:
  serve     run the Trent server (trent serve -h for flags)
  audit     list, filter and verify the audit trail
  bench     closed-loop load generator for AWS-KMS-compatible endpoints
  admin     create accounts and credentials, apply a principals file
  rotate-root-key  rotate the PKCS#11 root key and reseal all material online
  root-key move    move the root key file (out of the data directory)
  root-key escrow  split the root key into N shares, any K rebuild it (age-encrypted)
  root-key recover rebuild the root key file from K shares
  xks-proxy        serve AWS's External Key Store proxy API from a PKCS#11 token
  k8s-kms-plugin   serve the Kubernetes KMS v2 plugin API on a unix socket (docs/kubernetes.md)
  backup    back up an installation while it serves (backup verify DIR checks one)
  restore   restore a backup into an empty data directory or database
  migrate   move every record between SQLite and PostgreSQL, verified
  version   print the version
`

var version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	// The one reading of the environment; the commands take what they need.
	env := config.FromEnv(os.LookupEnv)
	switch os.Args[1] {
	case "serve":
		err = runServe(args, env)
	case "audit":
		err = runAudit(args)
	case "bench":
		err = runBench(args, env)
	case "xks-proxy":
		err = runXKSProxy(args, env)
	case "k8s-kms-plugin":
		err = runK8sKMSPlugin(args)
	case "rotate-root-key":
		err = runRotateRootKey(args, env)
	case "root-key":
		err = runRootKey(args, env, os.Stdout)
	case "admin":
		err = runAdmin(args, env)
	case "backup":
		err = runBackup(args, os.Stdout)
	case "restore":
		err = runRestore(args, env, os.Stdout)
	case "migrate":
		err = runMigrate(args, os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("trent", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "trent: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "trent:", err)
		os.Exit(1)
	}
}

// loadConfig reads the configuration file at configPath (none when empty)
// and sets dataDir and storeURL over it when they are not empty: every
// subcommand reads a data directory's configuration as `trent serve` does.
func loadConfig(configPath, dataDir, storeURL string) (*config.File, error) {
	cfg := &config.File{}
	if configPath != "" {
		f, err := config.Load(configPath)
		if err != nil {
			return nil, err
		}
		cfg = f
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	if storeURL != "" {
		cfg.Store = storeURL
	}
	return cfg, nil
}
