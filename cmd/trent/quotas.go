package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/quota"
)

const quotasUsage = `usage: trent admin quotas <show|set|classes> [flags]

  show     --account-id ID
           the account's effective quotas: resource quotas and request rates
  set      --account-id ID [--keys N] [--aliases-per-key N] [--grants-per-key N]
           [--key-policy-bytes N] [--custom-key-stores N] [--on-demand-rotations N]
           [--rate CLASS=RPS]... [--rates aws|off|default] [--reset]
           set the account's own quotas; a resource quota of 0 and a --rate of
           "default" return to the node's default; a rate of 0 is unlimited;
           --rates aws sets every AWS request quota, off makes every class
           unlimited for the account, default drops the account's rates
  classes  list the rate classes and AWS's default request quotas

The quotas are stored durably in the store; every running node applies a
change within seconds (its change feed), without restart.
Common flags: --config FILE, --data-dir DIR, --store URL.
`

// rateFlags collects repeated --rate CLASS=RPS flags.
type rateFlags map[string]string

func (r rateFlags) String() string { return "" }
func (r rateFlags) Set(v string) error {
	name, val, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("--rate %q: want CLASS=RPS", v)
	}
	r[name] = val
	return nil
}

func adminQuotas(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, quotasUsage)
		if len(args) == 0 {
			return errors.New("admin quotas: missing subcommand")
		}
		return nil
	}
	sub := args[0]
	if sub == "classes" {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLASS\tAWS DEFAULT (requests/s)")
		for _, c := range quota.Classes() {
			v := "-"
			if r, ok := quota.AWSRates[c]; ok {
				v = strconv.FormatFloat(r, 'f', -1, 64)
			}
			fmt.Fprintf(tw, "%s\t%s\n", c, v)
		}
		return tw.Flush()
	}
	if sub != "show" && sub != "set" {
		return fmt.Errorf("admin quotas: unknown subcommand %q\n\n%s", sub, quotasUsage)
	}
	fs := flag.NewFlagSet("admin quotas "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML configuration file")
	dataDir := fs.String("data-dir", "", "state directory (default "+config.DefaultDataDir()+")")
	storeURL := fs.String("store", "", "storage: sqlite:PATH or postgres://...")
	account := fs.String("account-id", "", "12-digit account ID")
	res := map[string]*int{}
	for _, name := range quota.ResourceNames() {
		res[name] = fs.Int(flagName(name), -1, "resource quota "+name+" (0: the node's default)")
	}
	rates := rateFlags{}
	fs.Var(rates, "rate", "CLASS=RPS: the account's request quota of a rate class (repeatable; 0: unlimited; default: the node's)")
	preset := fs.String("rates", "", "aws, off or default: every rate class at once")
	reset := fs.Bool("reset", false, "drop the account's own quotas before applying the other flags")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !arn.ValidAccountID(*account) {
		return errors.New("admin quotas: --account-id must be 12 digits")
	}
	cfg, err := loadConfig(*cfgPath, *dataDir, *storeURL)
	if err != nil {
		return err
	}
	st, err := node.OpenInitializedStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if sub == "set" {
		_, err := quota.Update(ctx, st, *account, func(q *quota.Quotas) error {
			if *reset {
				*q = quota.Quotas{}
			}
			for name, v := range res {
				if *v >= 0 {
					if err := q.Resources.Set(name, *v); err != nil {
						return err
					}
				}
			}
			switch *preset {
			case "":
			case "aws":
				q.Rates = maps.Clone(quota.AWSRates)
			case "off":
				q.Rates = quota.Rates{}
				for _, c := range quota.Classes() {
					q.Rates[c] = 0
				}
			case "default":
				q.Rates = nil
			default:
				return fmt.Errorf("admin quotas: --rates %q: want aws, off or default", *preset)
			}
			for name, v := range rates {
				if !quota.ValidClass(name) {
					return fmt.Errorf("admin quotas: unknown rate class %q (trent admin quotas classes lists them)", name)
				}
				if v == "default" {
					delete(q.Rates, name)
					continue
				}
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return fmt.Errorf("admin quotas: --rate %s=%s: %w", name, v, err)
				}
				if q.Rates == nil {
					q.Rates = quota.Rates{}
				}
				q.Rates[name] = f
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	t := node.QuotaTable(cfg, st, nil)
	if err := t.Load(ctx); err != nil {
		return err
	}
	stored, err := quota.Read(ctx, st, *account)
	if err != nil {
		return err
	}
	return printQuotas(out, *account, t, stored)
}

// flagName turns a quota name (aliasesPerKey) into a flag (aliases-per-key).
func flagName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func printQuotas(out io.Writer, account string, t *quota.Table, stored *quota.Quotas) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "account %s\n\nRESOURCE\tQUOTA\tSOURCE\n", account)
	eff := t.Resources(account)
	for _, name := range quota.ResourceNames() {
		v, own := eff.Get(name), stored.Resources.Get(name)
		src := "default"
		if own > 0 {
			src = "account"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", name, v, src)
	}
	fmt.Fprintf(tw, "\nRATE CLASS\tREQUESTS/S\tSOURCE\n")
	rates := t.Rates(account)
	for _, c := range slices.Sorted(maps.Keys(rates)) {
		v := "unlimited"
		if rates[c] > 0 {
			v = strconv.FormatFloat(rates[c], 'f', -1, 64)
		}
		src := "default"
		if _, own := stored.Rates[c]; own {
			src = "account"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c, v, src)
	}
	if len(rates) == 0 {
		fmt.Fprintln(tw, "(none)\tunlimited\tdefault")
	}
	return tw.Flush()
}
