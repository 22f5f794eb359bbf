package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/logs"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/server"
)

func runServe(args []string, env config.Env) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML configuration file (flags override it)")
	listen := fs.String("listen", "", "address to listen on (default "+config.DefaultListen+")")
	dataDir := fs.String("data-dir", "", "state directory (default "+config.DefaultDataDir()+")")
	region := fs.String("region", "", "AWS Region name to serve (default "+config.DefaultRegion+")")
	account := fs.String("account-id", "", "12-digit account ID of the administrator (default "+config.DefaultAccountID+")")
	storeURL := fs.String("store", "", "storage: sqlite:PATH (default DATA_DIR/trent.db) or postgres://...")
	tlsCert := fs.String("tls-cert", "", "TLS certificate (PEM) for HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key (PEM) for HTTPS")
	insecure := fs.Bool("insecure-http", false, "allow plain HTTP on a non-loopback address")
	sm2 := fs.Bool("enable-sm2", false, "serve SM2 keys outside China Regions")
	nodeID := fs.String("node-id", "", "node name for the audit trail and leases (default node1)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	logFormat := fs.String("log-format", "", "text or json: one JSON object a line (default text)")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus metrics (GET /metrics) on this address, apart from the API (default "+config.DefaultMetricsListen+"; off: none)")
	consoleServe := fs.String("console", "", "on or off: serve the web console at /console/ (default on)")
	consoleListen := fs.String("console-listen", "", "serve the web console (and the APIs it calls) on this address instead of the API's")
	pprofAddr := fs.String("pprof", "", "serve Go profiling endpoints (net/http/pprof) on this loopback address")
	principals := fs.String("principals", "", "YAML file declaring accounts, users, roles and policies, applied at every start")
	acceptTrunc := fs.Bool("accept-audit-truncation", false, "start although the audit trail is shorter than its anchor or its digests, recording the loss in the trail (use once, after investigating)")
	replaceSigner := fs.Bool("replace-audit-signing-key", false, "start although the sealed audit signing key that signed the trail is missing or cannot be unsealed: sign with a new key from now on, recording the replacement in the trail (use once, after trying to restore the key from a backup)")
	rootKeyFile := fs.String("root-key-file", "", "root key file (default "+defaultRootKeyFile()+"); never inside the data directory")
	allowInData := fs.Bool("allow-root-key-in-data-dir", false, "UNSAFE: accept a root key file inside the data directory, where every copy of the directory carries it")
	maxConns := fs.Int("max-connections", 0, "maximum open client connections (default: from the open file limit; -1: no limit)")
	maxConnsPerClient := fs.Int("max-connections-per-client", 0, "maximum open connections per client address (default: a quarter of --max-connections; -1: no limit)")
	k8sSocket := fs.String("k8s-kms-socket", "", "also serve the Kubernetes KMS v2 plugin in-process on this unix socket (docs/kubernetes.md)")
	k8sKey := fs.String("k8s-kms-key-id", "", "the in-process plugin's key: key ID, key ARN or alias")
	k8sCluster := fs.String("k8s-kms-cluster-name", "", "the in-process plugin's cluster name (encryption context k8s-kms-plugin)")
	keysFile := fs.String("keys-file", "", "YAML file declaring keys (fixed key IDs, aliases, policies, imported material), applied at every start")
	dev := fs.Bool("dev", false, "development mode: the administrator account's root may advance the domain clock (loopback addresses only)")
	k8sAKID := fs.String("k8s-kms-access-key-id", "", "the in-process plugin acts as the principal of this access key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, "", "")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	override := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	override("listen", &cfg.Listen, *listen)
	override("data-dir", &cfg.DataDir, *dataDir)
	override("region", &cfg.Region, *region)
	override("account-id", &cfg.AccountID, *account)
	override("store", &cfg.Store, *storeURL)
	override("tls-cert", &cfg.TLS.Cert, *tlsCert)
	override("tls-key", &cfg.TLS.Key, *tlsKey)
	override("node-id", &cfg.NodeID, *nodeID)
	override("log-level", &cfg.LogLevel, *logLevel)
	override("log-format", &cfg.LogFormat, *logFormat)
	override("metrics-listen", &cfg.Metrics.Listen, *metricsListen)
	override("principals", &cfg.Principals, *principals)
	override("keys-file", &cfg.KeysFile, *keysFile)
	if set["dev"] {
		cfg.Dev = *dev
	}
	override("console", &cfg.Console.Serve, *consoleServe)
	override("console-listen", &cfg.Console.Listen, *consoleListen)
	override("root-key-file", &cfg.RootKey.File, *rootKeyFile)
	override("k8s-kms-socket", &cfg.K8sKMS.Socket, *k8sSocket)
	override("k8s-kms-key-id", &cfg.K8sKMS.KeyID, *k8sKey)
	override("k8s-kms-cluster-name", &cfg.K8sKMS.ClusterName, *k8sCluster)
	override("k8s-kms-access-key-id", &cfg.K8sKMS.AccessKeyID, *k8sAKID)
	if set["allow-root-key-in-data-dir"] {
		cfg.RootKey.AllowInDataDir = *allowInData
	}
	if set["insecure-http"] {
		cfg.InsecureHTTP = *insecure
	}
	if set["enable-sm2"] {
		cfg.EnableSM2 = *sm2
	}
	if set["max-connections"] {
		cfg.Limits.MaxConnections = *maxConns
	}
	if set["max-connections-per-client"] {
		cfg.Limits.MaxConnectionsPerClient = *maxConnsPerClient
	}
	level := slog.LevelInfo
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return fmt.Errorf("log level: %w", err)
		}
	}
	log, err := logs.New(os.Stderr, cfg.LogFormat, level)
	if err != nil {
		return err
	}
	// Every client connection holds a file descriptor: take all the
	// process may have (the default connection limit is derived from it).
	if soft, hard, err := server.RaiseFileLimit(); err != nil {
		log.Warn("open file limit not raised", "soft", soft, "hard", hard, "err", err)
	} else {
		log.Info("open file limit raised to the hard limit", "limit", soft, "hard", hard)
	}
	if !env.GOGCSet {
		// Trent's heap is small and short-lived garbage dominates; trading
		// memory for fewer collections saves about 5% CPU per request.
		debug.SetGCPercent(400)
	}
	// Before the node starts: a SIGTERM that arrives while it starts, or
	// right after the banner, shuts it down cleanly instead of killing it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// SIGHUP reloads the TLS certificate (as it does for most daemons)
	// instead of ending the process, from the start on.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	n, err := node.Start(cfg, node.Options{
		Logger:                 log,
		Env:                    env,
		AcceptAuditTruncation:  *acceptTrunc,
		ReplaceAuditSigningKey: *replaceSigner,
	})
	if err != nil {
		return err
	}
	if !env.GOMAXPROCSSet && n.Audit != nil && n.Audit.RawIO() {
		// The audit writer keeps its P through each disk write and sync (a
		// raw system call: no hand-off, no queueing for a P afterwards),
		// which takes one P out of request handling for a third of the
		// time under load. One more P than CPUs keeps every CPU serving:
		// +5-9% GenerateDataKey/s at c=64 on 2 CPUs (docs/performance.md).
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	printBanner(n)
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			n.Shutdown(context.Background())
			return err
		}
	}
	done := waitErr(n)
	for {
		select {
		case <-hup:
			if n.Certs == nil {
				log.Info("SIGHUP: nothing to reload (not serving HTTPS)")
			} else if err := n.ReloadTLS(); err != nil {
				log.Error("SIGHUP: TLS certificate not reloaded; serving the previous certificate", "err", err)
			}
		case s := <-sig:
			log.Info("shutting down", "signal", s.String())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return n.Shutdown(ctx)
		case err := <-done:
			return err
		case err := <-n.Stopped():
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n.Shutdown(ctx)
			return err
		}
	}
}

// defaultRootKeyFile is the default root key file for flag help.
func defaultRootKeyFile() string {
	if p := config.DefaultRootKeyFile(); p != "" {
		return p
	}
	return "$XDG_CONFIG_HOME/trent/root.key"
}

func waitErr(n *node.Node) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- n.Wait() }()
	return ch
}

func printBanner(n *node.Node) {
	c := n.Config
	fmt.Printf("Trent %s is serving the AWS KMS API\n\n", version)
	fmt.Printf("  endpoint:    %s\n  region:      %s\n  account ID:  %s\n  data dir:    %s\n", n.Endpoint, c.Region, c.AccountID, c.DataDir)
	fmt.Printf("  root key:    %s (%s)\n", n.Root.CurrentID(), n.RootKeySource)
	if n.MetricsEndpoint != "" {
		fmt.Printf("  metrics:     %s\n", n.MetricsEndpoint)
	}
	if n.DevClock != nil {
		fmt.Printf("  DEVELOPMENT: --dev: the root of account %s may advance the domain clock (now %s ahead): trent admin dev-clock advance 7d --endpoint-url %s\n",
			c.AccountID, n.DevClock.Offset(), n.Endpoint)
	}
	if n.ConsoleEndpoint != "" {
		fmt.Printf("  console:     %s\n", n.ConsoleEndpoint)
	}
	fmt.Printf("  access key:  %s\n", n.AdminAccessKeyID)
	switch {
	case n.AdminCredentialsFile != "":
		fmt.Printf("  secret key:  in %s (mode 0600)\n", n.AdminCredentialsFile)
	default:
		fmt.Printf("  secret key:  the TRENT_SECRET_ACCESS_KEY this data directory was created with\n")
	}
	fmt.Printf("\nTry it (AWS CLI v1 or v2):\n  %s\n  aws kms create-key --endpoint-url %s\n\n", bannerExport(n), n.Endpoint)
}

// bannerExport is the shell line that points the AWS CLIs and SDKs at the
// administrator credential and the Region. Both variables of the Region are
// set: AWS CLI v1 and boto3 read AWS_DEFAULT_REGION, the JavaScript SDK
// only AWS_REGION. It names the credential file, or the environment
// variable that holds the secret: never the secret itself.
func bannerExport(n *node.Node) string {
	region := n.Config.Region
	if n.AdminCredentialsFile != "" {
		return fmt.Sprintf("export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=default AWS_DEFAULT_REGION=%s AWS_REGION=%s",
			shellQuote(n.AdminCredentialsFile), region, region)
	}
	return fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=\"$TRENT_SECRET_ACCESS_KEY\" AWS_DEFAULT_REGION=%s AWS_REGION=%s",
		shellQuote(n.AdminAccessKeyID), region, region)
}

// shellQuote quotes s for a POSIX shell unless it needs no quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
