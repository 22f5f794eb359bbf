package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/node"
)

const adminUsage = `usage: trent admin <subcommand> [flags]

Subcommands work on a data directory (and its store) directly; they can run
while the server is up: running servers see the change within seconds.

  create-account     --account-id ID [--name NAME]
                     register an account and print its first root credential
  create-access-key  --account-id ID [--user NAME]
                     print a new access key of the account root or an IAM user
  list-accounts      list registered accounts
  apply-principals   --file FILE
                     apply a declarative principals file (as serve --principals)
  dev-clock          advance STEP | show  --endpoint-url URL
                     move the domain clock of a server started with --dev
                     (a signed call to it, as the administrator account's root)
  replication-identity
                     print this deployment's public replication identity, as
                     a peers: entry for the other deployments' configuration
  replication-status print the peers and the multi-Region key changes not yet
                     delivered to them (docs/multi-region.md)
  quotas             show|set|classes: an account's resource and rate quotas
                     (trent admin quotas help)

Common flags: --config FILE, --data-dir DIR, --store URL, --region REGION,
--root-key-file FILE. The root key is found as trent serve finds it:
TRENT_ROOT_KEY, the PKCS#11 token of the configuration, or the key file
(default $XDG_CONFIG_HOME/trent/root.key, i.e. ~/.config/trent/root.key).
`

func runAdmin(args []string, env config.Env) error { return admin(args, env, os.Stdout) }

func admin(args []string, env config.Env, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, adminUsage)
		if len(args) == 0 {
			return errors.New("admin: missing subcommand")
		}
		return nil
	}
	sub := args[0]
	if sub == "dev-clock" {
		return adminDevClock(args[1:], env, out)
	}
	if sub == "quotas" {
		return adminQuotas(args[1:], out)
	}
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML configuration file")
	dataDir := fs.String("data-dir", "", "state directory (default "+config.DefaultDataDir()+")")
	storeURL := fs.String("store", "", "storage: sqlite:PATH or postgres://...")
	region := fs.String("region", "", "region (for ARN partitions)")
	rootKeyFile := fs.String("root-key-file", "", "root key file (default "+defaultRootKeyFile()+")")
	account := fs.String("account-id", "", "12-digit account ID")
	name := fs.String("name", "", "account name (create-account)")
	user := fs.String("user", "", "IAM user name (create-access-key); empty means the account root")
	file := fs.String("file", "", "principals file (apply-principals)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, *dataDir, *storeURL)
	if err != nil {
		return err
	}
	if *region != "" {
		cfg.Region = *region
	}
	if *rootKeyFile != "" {
		cfg.RootKey.File = *rootKeyFile
	}
	switch sub {
	case "replication-identity", "replication-status":
		return adminReplication(sub, cfg, env, out)
	case "create-account", "create-access-key", "list-accounts", "apply-principals":
	default:
		return fmt.Errorf("admin: unknown subcommand %q\n\n%s", sub, adminUsage)
	}
	dir, closeFn, err := node.OpenDirectory(cfg, env)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx := context.Background()
	switch sub {
	case "create-account":
		k, secret, err := dir.CreateAccount(ctx, *account, *name)
		if err != nil {
			return err
		}
		printCredential(out, *account, "root", k.ID, secret)
	case "create-access-key":
		if !arn.ValidAccountID(*account) {
			return fmt.Errorf("admin: --account-id must be 12 digits")
		}
		var (
			k      iam.AccessKeyInfo
			secret string
		)
		if *user == "" {
			k, secret, err = dir.CreateRootAccessKey(ctx, *account)
		} else {
			k, secret, err = dir.CreateUserAccessKey(ctx, *account, *user)
		}
		if err != nil {
			return err
		}
		who := "root"
		if *user != "" {
			who = "user/" + *user
		}
		printCredential(out, *account, who, k.ID, secret)
	case "list-accounts":
		accts, err := dir.ListAccounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCOUNT\tNAME\tCREATED\tROOT KEYS")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cfg.AccountID, "(bootstrap)", "-", "-")
		for _, a := range accts {
			if a.ID == cfg.AccountID {
				continue
			}
			keys, err := dir.ListAccessKeys(ctx, a.ID, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", a.ID, a.Name, a.Created.Format("2006-01-02T15:04:05Z"), len(keys))
		}
		return tw.Flush()
	case "apply-principals":
		if *file == "" {
			return errors.New("admin: apply-principals needs --file")
		}
		skipped, err := dir.LoadPrincipals(ctx, *file, env.Secret)
		for _, s := range skipped {
			fmt.Fprintf(os.Stderr, "error: %v\n", s)
		}
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			// Unlike serve, which starts all the same: a command run by
			// hand or by a pipeline says that the file is not all applied.
			return fmt.Errorf("admin: applied %s except %d declared principal(s) or key(s), listed above", *file, len(skipped))
		}
		fmt.Fprintf(out, "applied %s\n", *file)
	}
	return nil
}

// printCredential prints a new credential in the AWS shared-credentials
// format; it is the only time the secret is shown.
func printCredential(out io.Writer, account, who, akid, secret string) {
	fmt.Fprintf(out, "# Trent credential for %s of account %s. Shown once; keep it secret.\n[trent-%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		who, account, account, akid, secret)
}
