package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"time"
)

// ErrVerifyFailed is returned by Run when "verify" found a problem.
var ErrVerifyFailed = errors.New("audit trail verification failed")

// Run implements "trent audit": args are the arguments after "audit".
//
//	trent audit [list] --dir D [--since T] [--until T] [--key ID|ARN]
//	    [--principal ARN] [--event NAME] [--error CODE|*] [--node N]
//	trent audit verify --dir D [--public-key F] [--node N] [--require-digests] [--json]
//
// list prints matching events as JSON lines, merged by time across nodes;
// times are RFC 3339 or a duration back from now ("24h"). verify prints OK or
// each node's first problem, and returns ErrVerifyFailed if there is one.
// Usage errors are returned as errors; nothing is printed to stdout then.
func Run(args []string, stdout, stderr io.Writer) error {
	cmd := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "verify") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("trent audit "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "trail directory (required)")
	node := fs.String("node", "", "only this node's trail")
	switch cmd {
	case "verify":
		pubFile := fs.String("public-key", "", "PEM file with the trusted Ed25519 public key(s) of the digests")
		req := fs.Bool("require-digests", false, "fail if a trail has no signed digests")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *dir == "" || fs.NArg() > 0 {
			return errors.New("usage: trent audit verify --dir D [--public-key F] [--node N] [--require-digests] [--json]")
		}
		opts := VerifyOptions{Node: *node, RequireDigests: *req}
		if *pubFile != "" {
			b, err := os.ReadFile(*pubFile)
			if err != nil {
				return err
			}
			if opts.PublicKeys, err = ParsePublicKeyPEM(b); err != nil {
				return err
			}
		}
		rep, err := Verify(*dir, opts)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				return err
			}
		} else {
			printReport(stdout, rep)
		}
		if !rep.OK() {
			return ErrVerifyFailed
		}
		return nil
	default:
		var f Filter
		since := fs.String("since", "", "only events at or after this time (RFC 3339, or a duration before now such as 24h)")
		until := fs.String("until", "", "only events before this time")
		fs.StringVar(&f.Key, "key", "", "key ID or ARN")
		fs.StringVar(&f.Principal, "principal", "", "principal ARN or ID")
		fs.StringVar(&f.EventName, "event", "", "event name, e.g. Decrypt")
		fs.StringVar(&f.ErrorCode, "error", "", "error code, or * for any failure")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *dir == "" || fs.NArg() > 0 {
			return errors.New("usage: trent audit [list] --dir D [--since T] [--until T] [--key ID|ARN] [--principal ARN] [--event NAME] [--error CODE] [--node N]")
		}
		f.Node = *node
		var err error
		now := time.Now()
		if f.Since, err = parseWhen(*since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		if f.Until, err = parseWhen(*until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		w := bufio.NewWriterSize(stdout, 1<<16)
		err = Read(*dir, f, func(e Entry) error {
			w.Write(e.Raw)
			return w.WriteByte('\n')
		})
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	}
}

func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func printReport(w io.Writer, rep *Report) {
	if len(rep.Nodes) == 0 {
		fmt.Fprintln(w, "no trails found")
	}
	for _, n := range rep.Nodes {
		status := "OK"
		if len(n.Problems) > 0 {
			status = "FAILED"
		}
		fmt.Fprintf(w, "node %s: %s: records %d..%d in %d segment(s), %d digest(s) covering through %d",
			n.Node, status, n.FirstSeq, n.LastSeq, n.Segments, n.Digests, n.DigestedThrough)
		if n.PrunedThrough > 0 {
			fmt.Fprintf(w, ", records through %d removed by retention", n.PrunedThrough)
		}
		fmt.Fprintln(w)
		for _, p := range n.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		for _, m := range n.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", m)
		}
	}
	if rep.OK() {
		fmt.Fprintln(w, "OK")
	}
}

// DialSyslog connects to a syslog daemon (network and raddr empty for the
// local one) and returns a writer for Options.Syslog that sends each event
// as one message at facility AUTHPRIV, severity INFO.
func DialSyslog(network, raddr, tag string) (io.WriteCloser, error) {
	return syslog.Dial(network, raddr, syslog.LOG_AUTHPRIV|syslog.LOG_INFO, tag)
}
