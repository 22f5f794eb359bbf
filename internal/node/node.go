package node

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/devclock"
	"github.com/trentkms/trent/internal/dirlock"
	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/iamapi"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/k8skms"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/metrics"
	"github.com/trentkms/trent/internal/peer"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/server"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/trailapi"
)

// Node is a running Trent: its store, root of trust, domain services (the
// core, Service, and the concerns beside it: Grants, Imports, KeyStores,
// Jobs), audit trail and HTTP server, built from a configuration.
type Node struct {
	Config    *config.File
	Store     store.Store
	Root      rootkey.Provider
	Service   *kms.Service
	Grants    *grant.Service
	Imports   *keyimport.Service
	KeyStores *keystore.Service
	Jobs      *job.Runner
	Directory *iam.Directory
	Audit     *audit.Log
	Server    *server.Server
	Listener  net.Listener
	// Certs is the HTTPS certificate, reloaded when its files change and
	// on ReloadTLS (nil without TLS).
	Certs *server.Certs
	// Endpoint is the URL clients use (http://ADDR or https://ADDR).
	Endpoint string
	// AdminAccessKeyID is the bootstrap administrator's access key ID.
	AdminAccessKeyID string
	// AdminCredentialsFile is where a generated administrator credential
	// was written ("" when it came from the environment).
	AdminCredentialsFile string
	// RootKeySource says where the root key came from: a key file's path,
	// TRENT_ROOT_KEY or a PKCS#11 token.
	RootKeySource string
	// Metrics is the node's Prometheus registry; MetricsEndpoint the URL
	// it is served at ("" when it is not served).
	Metrics         *metrics.Metrics
	MetricsEndpoint string
	metricsSrv      *http.Server
	log             *slog.Logger
	done            chan error
	// stopped carries why the node must stop serving (stop), to the
	// program that runs it (Stopped).
	stopped   chan error
	stopCerts chan struct{} // closed to stop watching Certs' files
	// k8s is the in-process Kubernetes KMS plugin's server, if any.
	k8s *k8skms.Server
	// ConsoleEndpoint is the web console's URL ("" when it is off).
	ConsoleEndpoint string
	// consoleSrv serves the console's own listener (--console-listen).
	consoleSrv *server.Server
	// locks are the data directory's (and an outside SQLite database's)
	// locks, held for the node's lifetime.
	locks []*dirlock.Lock
	// DevClock is the development clock (--dev), or nil (dev.go).
	DevClock *devclock.Clock
}

// Options are the run-time inputs a configuration file cannot hold.
type Options struct {
	Logger *slog.Logger
	// Env is the environment (config.FromEnv). The node takes from it:
	// AccessKeyID and SecretAccessKey, which, when set at first start,
	// become the bootstrap administrator credential; RootKey, when set,
	// the root key itself instead of a key file; the PKCS#11 settings the
	// configuration file leaves out (HSM); the XKS client's trusted roots
	// (XKSCAFile); the secrets a principals file names (Secret); and, in
	// a binary built with the trenttest tag, the test hooks (Test).
	Env config.Env
	// Now overrides the clock (tests).
	Now func() time.Time
	// KMS adjusts the domain configuration before the service is built.
	KMS func(*kms.Config)
	// Jobs adjusts the background work's configuration likewise.
	Jobs func(*job.Config)
	// AcceptAuditTruncation lets the node start on an audit trail that is
	// shorter than its anchor in the store or than its own digests
	// (--accept-audit-truncation); the loss is recorded in the trail.
	// Without it such a node refuses to start.
	AcceptAuditTruncation bool
	// ReplaceAuditSigningKey lets the node start when the sealed audit
	// signing key that signed its trail is missing, cannot be unsealed,
	// or holds another key (--replace-audit-signing-key): a new key
	// signs the trail from then on (an unusable file is kept aside), and
	// the replacement is recorded in the trail. Without it such a node
	// refuses to start. It acts once: once the trail is signed by the
	// new key there is nothing left to replace.
	ReplaceAuditSigningKey bool
}

// Start builds and starts a node. On error, everything already opened is
// closed again.
func Start(cfg *config.File, opt Options) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	listen, err := listenAddress(cfg)
	if err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n = &Node{Config: cfg, log: log, done: make(chan error, 1), stopped: make(chan error, 1)}
	node := n // "return nil, err" clears n before the deferred cleanup runs
	defer func() {
		if err != nil {
			node.closeAll()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if n.locks, err = lockDataDir(cfg, "Two servers on one data directory would corrupt its audit trail, whatever their --node-id: stop the other one, or give each node its own --data-dir."); err != nil {
		return nil, err
	}
	if n.Store, err = OpenStore(cfg); err != nil {
		return nil, err
	}
	// After the store: whether a missing key file may be created, and
	// whether the key opens what is stored, depend on what the store holds.
	if n.Root, n.RootKeySource, err = openRoot(context.Background(), cfg, n.Store, rootOptions{hex: opt.Env.RootKey, hsm: opt.Env.HSM, create: true, log: log}); err != nil {
		return nil, err
	}
	n.Metrics = metrics.New()
	// The domain's calls to the store are measured; the node's own (the
	// root key check, bootstrap) need not be.
	regional, home, err := regionStore(context.Background(), n.Store, cfg.Region)
	if err != nil {
		return nil, err
	}
	st := n.Metrics.Store(regional)
	kcfg := kms.Config{Store: st, Root: n.Root, Region: cfg.Region, Logger: log,
		CacheMaxAge: cfg.Cache.MaxAge, CacheGrace: cfg.Cache.Grace, EnableSM2: cfg.EnableSM2, Now: opt.Now,
		Quotas: QuotaTable(cfg, st, log)}
	jcfg := job.Config{NodeID: cfg.NodeID}
	if err := n.openDevClock(cfg, &kcfg, log); err != nil {
		return nil, err
	}
	applyTestHooks(&kcfg, &jcfg, opt.Env.Test, log)
	if opt.KMS != nil {
		opt.KMS(&kcfg)
	}
	if opt.Jobs != nil {
		opt.Jobs(&jcfg)
	}
	if cfg.Audit.Disabled {
		if err := refuseUnaudited(n.Store); err != nil {
			return nil, err
		}
		log.Warn("the audit trail is disabled (audit.disabled): calls are served without any record; for tests and benchmarks only")
	} else {
		if n.Audit, err = openAudit(cfg, n, log, opt); err != nil {
			return nil, err
		}
		jcfg.Events = n.serviceEvent
		jcfg.EventsReady = n.Audit.Recording
	}
	kscfg, err := keyStoreConfig(cfg, opt.Env)
	if err != nil {
		return nil, err
	}
	services, err := newServices(kcfg, jcfg, kscfg)
	if err != nil {
		return nil, err
	}
	n.Service, n.Grants, n.Imports, n.KeyStores, n.Jobs = services.KMS, services.Grants, services.Imports, services.KeyStores, services.Jobs
	if services.Replicas, err = n.startReplication(cfg, services.KMS, regional, home, log); err != nil {
		return nil, err
	}
	followRootKey(n)
	partition := n.Service.Partition()
	n.Directory = iam.New(st, n.Root, partition, n.directoryClock(opt.Now))
	// Before any key is loaded: materialize asks the authorizer to prepare
	// each key's policy.
	az := authz.New(authz.Config{Identities: n.Directory, Now: kcfg.Now, Logger: log})
	n.Service.SetAuthorizer(az)
	n.Directory.Watch(n.Service.OnChange)
	n.Service.OnPurge(n.Directory.Purge)
	n.followDevClock()
	if err := n.bootstrap(opt); err != nil {
		return nil, err
	}
	if err := n.Directory.StartPrincipalsEpoch(context.Background()); err != nil {
		return nil, err
	}
	if cfg.Principals != "" {
		skipped, err := n.Directory.LoadPrincipals(context.Background(), cfg.Principals, opt.Env.Secret)
		// Logged, not fatal: whoever squatted a declared name could
		// otherwise stop every start.
		for _, s := range skipped {
			log.Error("principals file: declared principal not applied", "account", s.Account, "kind", s.Kind, "name", s.Name, "reason", s.Reason)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := n.applyKeysFile(cfg, az, log); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if cfg.TLS.Cert != "" {
		if n.Certs, err = server.LoadCerts(cfg.TLS.Cert, cfg.TLS.Key, log); err != nil {
			return nil, err
		}
		tlsCfg = n.Certs.TLSConfig()
	}
	nofile := server.FileLimit()
	limits := server.ConnLimits(cfg.Limits, nofile)
	log.Info("connection limits", "maxConnections", limits.MaxConns, "maxConnectionsPerClient", limits.MaxConnsPerClient,
		"openFileLimit", nofile, "readTimeout", limits.ReadTimeout.String(), "idleTimeout", limits.IdleTimeout.String())
	// One failure limiter for the KMS and the IAM/STS APIs: a source's
	// budget is the same whichever it floods.
	failed := authfail.New(authfail.Config{Audit: n.Audit, Rate: cfg.Limits.FailedAuthRate,
		Burst: cfg.Limits.FailedAuthBurst, Interval: cfg.Limits.FailedAuthInterval,
		LookupRate: cfg.Limits.FailedAuthLookupRate, MaxTracked: cfg.Limits.FailedAuthSources, Logger: log})
	devProtocols, err := n.devProtocols(cfg, log, failed)
	if err != nil {
		return nil, err
	}
	scfg := server.Config{Services: services, Directory: n.Directory, Audit: n.Audit, Region: cfg.Region,
		Logger: log, TLS: tlsCfg, Now: opt.Now, Ready: n.ready, Limits: limits, FailedAuth: failed, Metrics: n.Metrics,
		Extra: iamapi.New(iamapi.Config{Directory: n.Directory, Region: cfg.Region, Audit: n.Audit, Logger: log, Now: opt.Now,
			FailedAuth: failed, Metrics: n.Metrics}),
		Protocols: append([]server.Protocol{trailProtocol(cfg, n, log, opt, failed), replicationProtocol(cfg, services.Replicas, failed, log)}, devProtocols...)}
	n.Server = server.New(apiConsole(cfg, scfg))
	n.registerCollectors(n.Metrics)
	n.Metrics.RegisterReplication(peer.NewCollector(services.Replicas))
	if n.Listener, err = net.Listen("tcp", listen); err != nil {
		return nil, err
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	n.Endpoint = scheme + "://" + n.Listener.Addr().String()
	if err := n.startMetrics(cfg, n.Metrics, log); err != nil {
		n.Listener.Close()
		return nil, err
	}
	if err := n.startK8sKMS(); err != nil {
		n.Listener.Close()
		if n.metricsSrv != nil {
			n.metricsSrv.Close()
		}
		return nil, err
	}
	if err := n.startConsole(cfg, scfg, log); err != nil {
		n.Listener.Close()
		if n.metricsSrv != nil {
			n.metricsSrv.Close()
		}
		n.stopK8sKMS()
		return nil, err
	}
	n.Jobs.Start()
	if n.Certs != nil && cfg.TLS.ReloadInterval > 0 {
		n.stopCerts = make(chan struct{})
		go n.Certs.Watch(cfg.TLS.ReloadInterval, n.stopCerts)
	}
	go func() { n.done <- n.Server.Serve(n.Listener) }()
	return n, nil
}

// auditSigner returns the trail's digest signing key, sealed by the root
// key in DATA_DIR/audit-signing.key so that a stolen trail directory cannot
// be re-signed; the first start makes it. The operator verifies digests
// with a trusted copy of its public key, so a key that is missing, cannot
// be unsealed or is not the one the trail's latest digest (or its anchor)
// names is never replaced silently: the start is refused, naming the key
// the trail needs, unless opt.ReplaceAuditSigningKey is set. Then replace
// says why the key changed, for the trail to record; it is "" otherwise.
func auditSigner(cfg *config.File, n *Node, log *slog.Logger, opt Options) (priv ed25519.PrivateKey, replace string, err error) {
	keyPath := filepath.Join(cfg.DataDir, audit.SigningKeyFile)
	node := AuditNode(cfg)
	// The key the trail needs; pub is the key this node holds, if any.
	lastSigner := func(pub ed25519.PublicKey) (audit.TrailSigner, error) {
		return audit.LastSigner(cfg.Audit.Dir, node, audit.StoreAnchor{Store: n.Store}, pub)
	}
	sealed, err := os.ReadFile(keyPath)
	switch {
	case err == nil:
		seed, err := n.Root.Open(sealed, audit.SigningKeyAAD)
		if err == nil && len(seed) != ed25519.SeedSize {
			err = fmt.Errorf("%w: %d bytes, not an Ed25519 seed", rootkey.ErrOpen, len(seed))
		}
		if err == nil {
			priv = ed25519.NewKeyFromSeed(seed)
			pub := priv.Public().(ed25519.PublicKey)
			kid := audit.KeyID(pub)
			trail, err := lastSigner(pub)
			if err != nil {
				return nil, "", err
			}
			if trail.Signed && trail.KeyID != "" && trail.KeyID != kid {
				if !opt.ReplaceAuditSigningKey {
					return nil, "", signingKeyRefusal(keyPath, "holds key "+kid, node, trail, "", "key "+kid+", which the file holds (sealed under this root key),")
				}
				// Sealed under this root key, so made by a Trent of
				// this installation (a start with this flag that failed
				// later, or another node's file): it can sign as well
				// as a new one.
				return priv, fmt.Sprintf("%s held key %s instead of key %s", audit.SigningKeyFile, kid, trail.KeyID), nil
			}
			if opt.ReplaceAuditSigningKey {
				log.Warn("--replace-audit-signing-key has no effect: the audit signing key is the one the trail was signed with; remove the flag", "keyId", kid)
			}
			return priv, "", nil
		}
		if !errors.Is(err, rootkey.ErrOpen) {
			// Not the file's fault (an HSM that does not answer): never
			// a reason to replace it.
			return nil, "", fmt.Errorf("audit signing key %s: %w", keyPath, err)
		}
		trail, terr := lastSigner(nil)
		if terr != nil {
			return nil, "", terr
		}
		aside := keyPath + ".unusable-" + time.Now().UTC().Format("20060102T150405Z")
		what := fmt.Sprintf("cannot be unsealed (%v): the file is damaged, or was sealed under a root key this node does not have", err)
		if !opt.ReplaceAuditSigningKey {
			return nil, "", signingKeyRefusal(keyPath, what, node, trail, fmt.Sprintf(" (the file is then kept as %s.unusable-<time>)", audit.SigningKeyFile), "a new key")
		}
		// Kept for the investigation.
		if err := os.Rename(keyPath, aside); err != nil {
			return nil, "", fmt.Errorf("audit signing key: %w", err)
		}
		log.Warn("audit signing key could not be unsealed; kept aside, a new key is made (--replace-audit-signing-key)", "file", aside, "err", err)
		replace = fmt.Sprintf("%s could not be unsealed (%v); it is kept as %s", audit.SigningKeyFile, err, filepath.Base(aside))
	case errors.Is(err, os.ErrNotExist):
		trail, err := lastSigner(nil)
		if err != nil {
			return nil, "", err
		}
		if trail.Signed {
			if !opt.ReplaceAuditSigningKey {
				return nil, "", signingKeyRefusal(keyPath, "is missing", node, trail, "", "a new key")
			}
			replace = audit.SigningKeyFile + " was missing"
		}
	default:
		return nil, "", fmt.Errorf("audit signing key: %w", err)
	}
	_, priv, err = ed25519.GenerateKey(nil)
	if err != nil {
		return nil, "", err
	}
	sealed, err = n.Root.Seal(priv.Seed(), audit.SigningKeyAAD)
	if err != nil {
		return nil, "", err
	}
	// Before any digest is signed with it: a crash after a digest must
	// not leave digests signed by a key that is nowhere.
	if err := writeFileSync(keyPath, sealed, 0o600); err != nil {
		return nil, "", err
	}
	return priv, replace, nil
}

// signingKeyRefusal is the error that stops a start whose audit signing key
// file (at path) does not give the key that signed the trail: problem says
// what is wrong with the file, more is added to the advice, and newKey
// names the key that signs after a replacement.
func signingKeyRefusal(path, problem, node string, trail audit.TrailSigner, more, newKey string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "audit signing key %s %s. ", path, problem)
	switch {
	case trail.Signed && trail.DigestSeq == 0:
		fmt.Fprintf(&b, "It must hold the key that signed node %q's trail, whose records are there but whose digests and anchor in the store are gone (the pubkey-*.pem files of the trail directory name the keys that ever signed it).", node)
	case trail.Signed && trail.KeyID != "":
		fmt.Fprintf(&b, "It must hold key %s, which signed node %q's trail up to digest %d of %s.", trail.KeyID, node, trail.DigestSeq, trail.Time.UTC().Format(time.RFC3339))
	case trail.Signed:
		fmt.Fprintf(&b, "It must hold the key that signed node %q's trail up to digest %d of %s (the anchor in the store, saved by an older Trent, does not name it; the pubkey-*.pem files of the trail directory name the keys that ever signed it).",
			node, trail.DigestSeq, trail.Time.UTC().Format(time.RFC3339))
	default:
		fmt.Fprintf(&b, "It must hold node %q's signing key.", node)
	}
	fmt.Fprintf(&b, " A new key would make `trent audit verify --public-key` with the trusted public key fail from here on.\n"+
		"Restore %s from a backup of the data directory (it is sealed under the root key: a backup of it reveals nothing), "+
		"or, if that key is lost, start once with --replace-audit-signing-key%s: %s signs the trail from then on, and the trail records the replacement "+
		"(a signing-key-replaced digest naming both keys, and an AuditSigningKeyReplaced event); "+
		"then add the new public key, pubkey-<new key ID>.pem in the trail directory, to the keys you trust in trent audit verify",
		audit.SigningKeyFile, more, newKey)
	return errors.New(b.String())
}

func openAudit(cfg *config.File, n *Node, log *slog.Logger, opt Options) (*audit.Log, error) {
	priv, replace, err := auditSigner(cfg, n, log, opt)
	if err != nil {
		return nil, err
	}
	a := cfg.Audit
	if a.MinFreePercent >= 100 {
		return nil, fmt.Errorf("audit.min_free_percent %v: must be below 100", a.MinFreePercent)
	}
	opts := audit.Options{Dir: a.Dir, Node: AuditNode(cfg), Signer: priv, DigestInterval: a.DigestInterval,
		MaxSegmentBytes: a.MaxSegmentMiB << 20, MaxAge: a.MaxAge, Logger: log, Now: opt.Now,
		Region: cfg.Region, HeartbeatInterval: a.HeartbeatInterval,
		MinFreeBytes: a.MinFreeMiB << 20, MinFreePercent: a.MinFreePercent, ReserveBytes: a.ReserveMiB << 20,
		SpaceCheckInterval: a.SpaceCheckInterval, MaxTotalBytes: a.MaxTotalMiB << 20, ArchiveDir: a.ArchiveDir,
		Anchor: audit.StoreAnchor{Store: n.Store}, AcceptTruncation: opt.AcceptAuditTruncation, Observer: n.Metrics,
		ReplaceSigner: replace != "", ReplaceReason: replace}
	if cfg.Audit.Stdout {
		opts.Stdout = os.Stdout
	}
	if cfg.Audit.Syslog != "" {
		network, addr := "", ""
		if cfg.Audit.Syslog != "local" {
			u, err := url.Parse(cfg.Audit.Syslog)
			if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" {
				return nil, fmt.Errorf("audit.syslog %q: want local, udp://host:port or tcp://host:port", cfg.Audit.Syslog)
			}
			network, addr = u.Scheme, u.Host
		}
		w, err := audit.DialSyslog(network, addr, "trent-audit")
		if err != nil {
			return nil, fmt.Errorf("audit.syslog: %w", err)
		}
		opts.Syslog = w
	}
	l, err := audit.Open(opts)
	if errors.Is(err, audit.ErrSignerChanged) {
		return nil, fmt.Errorf("%w\nRestore %s from a backup of the data directory, or, if the trail's key is lost, start once with --replace-audit-signing-key (the trail records the replacement)",
			err, filepath.Join(cfg.DataDir, audit.SigningKeyFile))
	}
	if errors.Is(err, audit.ErrTruncated) {
		return nil, fmt.Errorf("%w\nRecords that were durable are gone: investigate (restore the trail from a backup if you have one). To start anyway and record the loss in the trail, run trent serve once with --accept-audit-truncation", err)
	}
	return l, err
}

// refuseUnaudited refuses to serve without an audit trail a store that
// has been audited (some node's anchor is in it): calls would be served
// that no trail records, and since the node writes no digest, no anchor
// and no gap, `trent audit verify` would call the trail complete.
func refuseUnaudited(st store.Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := st.List(ctx, audit.AnchorKind, "", "", 1)
	if err != nil {
		return fmt.Errorf("audit.disabled: checking the store for audit trails: %w", err)
	}
	if len(recs) > 0 {
		return fmt.Errorf("audit.disabled: this store is audited (node %q keeps a trail anchored in it); a node without a trail would serve calls that no record shows and that `trent audit verify` could not see missing. "+
			"Remove audit.disabled; an unaudited node (tests, benchmarks) needs a store of its own", recs[0].ID)
	}
	return nil
}

// AuditNode is the node ID of cfg's audit trail and anchor (node_id, else
// node1).
func AuditNode(cfg *config.File) string {
	if cfg.NodeID == "" {
		return "node1"
	}
	return cfg.NodeID
}

func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serviceEvent records a scheduled action in the audit trail.
func (n *Node) serviceEvent(ctx context.Context, ev job.Event) error {
	t, dev := n.devEventTime(ev.Time)
	return n.Audit.Append(ctx, &audit.Event{
		EventVersion: "1.11", EventTime: t.Format("2006-01-02T15:04:05Z"), AdditionalEventData: dev,
		UserIdentity: &audit.UserIdentity{AccountID: ev.Account, InvokedBy: "kms.amazonaws.com"},
		EventSource:  "kms.amazonaws.com", EventName: ev.Name, AWSRegion: n.Config.Region,
		SourceIPAddress: "kms.amazonaws.com", UserAgent: "kms.amazonaws.com",
		RequestParameters: nil, EventID: audit.NewEventID(), ReadOnly: false,
		Resources: []audit.Resource{{AccountID: ev.Account, Type: "AWS::KMS::Key", ARN: ev.KeyARN}},
		EventType: "AwsServiceEvent", ManagementEvent: true, RecipientAccountID: ev.Account,
		ServiceEventDetails: map[string]any{"keyId": ev.KeyID}, EventCategory: "Management",
	})
}

func (n *Node) ready(ctx context.Context) error {
	if _, err := n.Store.LastSeq(ctx); err != nil {
		return err
	}
	if n.Audit != nil {
		// Failed, full (calls refused) or below its free-space watermark.
		return n.Audit.Health()
	}
	return nil
}

// Wait blocks until the server stops and returns its error.
func (n *Node) Wait() error { return <-n.done }

// Stopped delivers, once, why the node must stop serving although nothing
// failed in the server itself (another node advanced the store's
// development clock): the program shuts the node down and exits with it.
func (n *Node) Stopped() <-chan error { return n.stopped }

// stop asks the program to shut the node down for err (the first reason
// wins).
func (n *Node) stop(err error) {
	n.log.Error("stopping", "err", err)
	select {
	case n.stopped <- err:
	default:
	}
}

// Shutdown stops the node gracefully: in-flight requests finish, background
// work stops, the audit trail is sealed with a final digest, and the store
// is closed.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopConsole(ctx)
	err := n.Server.Shutdown(ctx)
	if n.metricsSrv != nil {
		n.metricsSrv.Close()
	}
	n.closeAll()
	return err
}

// ReloadTLS reads the TLS certificate and key files again (SIGHUP) and
// serves them to new connections; connections already open keep the
// certificate they were opened with. On error the current certificate
// stays.
func (n *Node) ReloadTLS() error {
	if n.Certs == nil {
		return errors.New("tls: not serving HTTPS (no --tls-cert)")
	}
	return n.Certs.Reload()
}

func (n *Node) closeAll() {
	if n.stopCerts != nil {
		close(n.stopCerts)
		n.stopCerts = nil
	}
	n.stopK8sKMS()
	if n.Jobs != nil {
		n.Jobs.Close()
	}
	if n.KeyStores != nil {
		n.KeyStores.Close()
	}
	if n.Audit != nil {
		st := n.Audit.Stats()
		n.log.Info("audit trail closed", "records", st.Records, "fsyncs", st.Syncs, "digests", st.Digests)
		if err := n.Audit.Close(); err != nil {
			n.log.Error("close audit trail", "err", err)
		}
	}
	if n.Store != nil {
		n.Store.Close()
	}
	if n.Root != nil {
		n.Root.Close()
	}
	for _, l := range n.locks {
		l.Release()
	}
}

// trailProtocol is the CloudTrail LookupEvents API over the node's trail
// directory. Its index reads the whole trail once, in the background from
// the start, then follows it; a lookup meanwhile waits for that first read.
func trailProtocol(cfg *config.File, n *Node, log *slog.Logger, opt Options, failed *authfail.Limiter) server.Protocol {
	var idx *audit.Index
	if n.Audit != nil {
		idx = audit.NewIndex(cfg.Audit.Dir)
		go func() {
			start := time.Now()
			if err := idx.Refresh(); err != nil {
				log.Error("audit index: reading the trail", "err", err)
				return
			}
			log.Info("audit index ready", "records", idx.Records(), "took", time.Since(start).Round(time.Millisecond).String())
		}()
	}
	var verify func(context.Context) (*trailapi.Verification, error)
	if n.Audit != nil {
		verify = newTrailVerifier(cfg.Audit.Dir, AuditNode(cfg), n.Store, log).State
	}
	h := trailapi.New(trailapi.Config{Directory: n.Directory, Index: idx, Audit: n.Audit, Region: cfg.Region, Logger: log,
		Now: opt.Now, FailedAuth: failed, Metrics: n.Metrics, Verification: verify})
	return server.Protocol{TargetPrefix: trailapi.TargetPrefix + ".", MaxBody: trailapi.MaxBody, Handler: h}
}
