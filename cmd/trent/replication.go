package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

// adminReplication runs the replication subcommands of trent admin.
func adminReplication(sub string, cfg *config.File, env config.Env, out io.Writer) error {
	switch sub {
	case "replication-identity":
		pub, err := node.ReplicationIdentity(cfg, env)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# the replication identity of the deployment of %s (%s)\n", pub.Region, pub.Fingerprint())
		fmt.Fprintf(out, "# add it to the peers: of every other deployment, with this one's endpoint\n")
		fmt.Fprintf(out, "- region: %s\n  endpoint: https://HOST:PORT\n  kem_public_key: %s\n  signing_public_key: %s\n", pub.Region, pub.KEM, pub.Sign)
		return nil
	}
	peers, err := node.Peers(cfg)
	if err != nil {
		return err
	}
	pending, err := node.ReplicationOutbox(cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tENDPOINT\tPENDING")
	for _, p := range peers {
		n := 0
		for _, x := range pending {
			if x.Region == p.Region {
				n++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", p.Region, p.Endpoint, n)
	}
	tw.Flush()
	if len(pending) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tKEY\tSINCE\tATTEMPTS\tLAST ERROR")
		for _, x := range pending {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", x.Region, x.KeyID, x.Since.Format("2006-01-02T15:04:05Z"), x.Attempts, x.LastError)
		}
		tw.Flush()
	}
	return nil
}
