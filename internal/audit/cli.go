package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"time"
)

// ErrVerifyFailed is returned by Run when "verify" found a problem.
var ErrVerifyFailed = errors.New("audit trail verification failed")

// DataDir is what "trent audit" needs to know about a data directory, from
// the rest of Trent (cmd/trent supplies it): where the trail of a data
// directory is, and its store, which holds the trail anchors. The
// arguments are the --config, --data-dir and --store flags, read as
// `trent serve` reads them.
type DataDir struct {
	// TrailDir returns the trail directory and this data directory's
	// node ID.
	TrailDir func(configPath, dataDir, storeURL string) (dir, node string, err error)
	// OpenAnchor opens the store's trail anchors; close releases the
	// store.
	OpenAnchor func(configPath, dataDir, storeURL string) (a Anchor, close func(), err error)
}

const (
	listUsage   = "usage: trent audit [list] (--dir D | --data-dir D [--config F]) [--since T] [--until T] [--key ID|ARN] [--principal ARN] [--event NAME] [--error CODE|*] [--node N]"
	verifyUsage = "usage: trent audit verify (--dir D | --data-dir D [--config F] [--store URL]) [--public-key F]... [--node N] [--require-digests] [--json]"
)

// Run implements "trent audit" without data-directory support (--dir only).
func Run(args []string, stdout, stderr io.Writer) error {
	return RunWith(args, stdout, stderr, DataDir{})
}

// RunWith implements "trent audit": args are the arguments after "audit".
//
//	trent audit [list] (--dir D | --data-dir D [--config F]) [--since T] [--until T]
//	    [--key ID|ARN] [--principal ARN] [--event NAME] [--error CODE|*] [--node N]
//	trent audit verify (--dir D | --data-dir D [--config F] [--store URL])
//	    [--public-key F]... [--node N] [--require-digests] [--json]
//
// --data-dir (with --config and --store, as for `trent serve`) names the
// data directory instead of the trail directory; verify then also checks
// each trail against its anchor in the store, and expects the trail of the
// configuration's node; --public-key may be repeated (every key of every
// file is trusted: the keys before and after a signing-key replacement).
// list prints matching events as JSON lines, merged
// by time across nodes; times are RFC 3339 or a duration back from now
// ("24h"). verify prints OK or each node's first problems, and returns
// ErrVerifyFailed if there is one. Usage errors are returned as errors;
// nothing is printed to stdout then.
func RunWith(args []string, stdout, stderr io.Writer, dd DataDir) error {
	cmd := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "verify") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("trent audit "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "trail directory")
	dataDir := fs.String("data-dir", "", "data directory of trent serve (its trail, and with verify its store's anchors)")
	cfgPath := fs.String("config", "", "trent serve's configuration file (with --data-dir, or for its data_dir)")
	storeURL := fs.String("store", "", "store of the data directory, as for trent serve (default DATA_DIR/trent.db)")
	node := fs.String("node", "", "only this node's trail")
	usage := listUsage
	if cmd == "verify" {
		usage = verifyUsage
	}
	// resolve finds the trail directory and, for verify, the anchors.
	resolve := func(anchors bool) (trail, cfgNode string, a Anchor, closeFn func(), err error) {
		closeFn = func() {}
		fromData := *dataDir != "" || *cfgPath != ""
		if *dir == "" && !fromData {
			return "", "", nil, nil, errors.New(usage)
		}
		trail = *dir
		if !fromData {
			return trail, "", nil, closeFn, nil
		}
		if dd.TrailDir == nil {
			return "", "", nil, nil, errors.New("audit: --data-dir is not supported here")
		}
		d, n, err := dd.TrailDir(*cfgPath, *dataDir, *storeURL)
		if err != nil {
			return "", "", nil, nil, err
		}
		if trail == "" {
			trail = d
		}
		if anchors {
			if a, closeFn, err = dd.OpenAnchor(*cfgPath, *dataDir, *storeURL); err != nil {
				return "", "", nil, nil, err
			}
		}
		return trail, n, a, closeFn, nil
	}
	switch cmd {
	case "verify":
		var pubFiles fileList
		fs.Var(&pubFiles, "public-key", "PEM file with trusted Ed25519 public key(s) of the digests; repeat it to trust the keys of several files")
		req := fs.Bool("require-digests", false, "fail if a trail has no signed digests, or there is no trail")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return errors.New(usage)
		}
		opts := VerifyOptions{Node: *node, RequireDigests: *req}
		for _, f := range pubFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			ks, err := ParsePublicKeyPEM(b)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			opts.PublicKeys = append(opts.PublicKeys, ks...)
		}
		trail, cfgNode, anchor, closeFn, err := resolve(true)
		if err != nil {
			return err
		}
		defer closeFn()
		opts.Anchor = anchor
		if cfgNode != "" {
			opts.ExpectNodes = []string{cfgNode}
		}
		if l, ok := anchor.(AnchorLister); ok {
			// A store of one data directory: every node it anchors
			// kept its trail here.
			ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
			nodes, err := l.AnchoredNodes(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("audit: listing the nodes anchored in the store: %w", err)
			}
			opts.ExpectNodes = append(opts.ExpectNodes, nodes...)
		}
		rep, err := Verify(trail, opts)
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
		if fs.NArg() > 0 {
			return errors.New(usage)
		}
		trail, _, _, closeFn, err := resolve(false)
		if err != nil {
			return err
		}
		defer closeFn()
		f.Node = *node
		now := time.Now()
		if f.Since, err = parseWhen(*since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		if f.Until, err = parseWhen(*until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		w := bufio.NewWriterSize(stdout, 1<<16)
		err = Read(trail, f, func(e Entry) error {
			w.Write(e.Raw)
			return w.WriteByte('\n')
		})
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	}
}

// fileList is a repeatable flag of file names.
type fileList []string

func (f *fileList) String() string { return strings.Join(*f, ",") }

func (f *fileList) Set(v string) error {
	if v == "" {
		return errors.New("empty file name")
	}
	*f = append(*f, v)
	return nil
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
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Kind, p.Detail)
	}
	for _, n := range rep.Nodes {
		status := "OK"
		if n.Truncated() {
			status = "TRUNCATED"
		} else if len(n.Problems) > 0 {
			status = "FAILED"
		}
		fmt.Fprintf(w, "node %s: %s: records %d..%d in %d segment(s), %d digest(s) covering through %d",
			n.Node, status, n.FirstSeq, n.LastSeq, n.Segments, n.Digests, n.DigestedThrough)
		if n.PrunedThrough > 0 {
			fmt.Fprintf(w, ", records through %d removed by retention", n.PrunedThrough)
		}
		fmt.Fprintln(w)
		if n.From != "" {
			fmt.Fprintf(w, "  records from %s to %s\n", n.From, n.Until)
		}
		if n.DigestsUntil != "" {
			fmt.Fprintf(w, "  digests from %s to %s: complete through %s\n", n.DigestsFrom, n.DigestsUntil, n.DigestsUntil)
		}
		if a := n.Anchor; a != nil {
			fmt.Fprintf(w, "  anchor in the store: digest %d of %s, records through %d\n", a.DigestSeq, a.Time.UTC().Format(time.RFC3339), a.LastSeq)
		}
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
