// Package config turns Trent's YAML configuration file, command-line flags
// and environment into settings. The file is versioned and parsed strictly:
// an unknown field is an error, so a typo never silently changes behaviour.
// Every setting is optional with a safe default; flags override the file.
// The environment is read here and nowhere else (Env, FromEnv).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults.
const (
	DefaultListen    = "127.0.0.1:4599"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "111122223333"
	// DefaultMetricsListen is where Prometheus metrics are served when
	// metrics.listen is not set: loopback only, never the API's port.
	DefaultMetricsListen = "127.0.0.1:9599"
	// MetricsOff, as metrics.listen, serves no metrics.
	MetricsOff = "off"
)

// DefaultDataDir is where Trent keeps state when --data-dir is not given:
// $XDG_DATA_HOME/trent, or ~/.local/share/trent.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "trent")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "trent")
	}
	return "trent-data"
}

// ConfigDir is Trent's per-user configuration directory: $XDG_CONFIG_HOME/trent,
// or ~/.config/trent. It holds what must not travel with the data
// directory: the default root key file and generated administrator
// credentials. It returns "" when neither XDG_CONFIG_HOME nor a home
// directory is known.
func ConfigDir() string {
	// The XDG specification says to ignore a relative XDG_CONFIG_HOME.
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "trent")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".config", "trent")
	}
	return ""
}

// DefaultRootKeyFile is where the file root key provider keeps its key when
// root_key.file is not set: ConfigDir()/root.key, i.e.
// $XDG_CONFIG_HOME/trent/root.key or ~/.config/trent/root.key. It is
// outside the default data directory, so that a copy of the data directory
// (a backup, a volume snapshot) does not carry the key that unseals it. It
// returns "" when ConfigDir does.
func DefaultRootKeyFile() string {
	if d := ConfigDir(); d != "" {
		return filepath.Join(d, "root.key")
	}
	return ""
}

// LegacyRootKeyFile is where Trent kept the root key file before it moved
// out of the data directory: DATA_DIR/root.key.
func LegacyRootKeyFile(dataDir string) string { return filepath.Join(dataDir, "root.key") }

// RootKeyPath is the file provider's key file: root_key.file when set
// (explicit is then true), else DefaultRootKeyFile(). Every command that
// reads the root key resolves it here. It returns an error when neither is
// known.
func (f *File) RootKeyPath() (path string, explicit bool, err error) {
	if f.RootKey.File != "" {
		return f.RootKey.File, true, nil
	}
	if p := DefaultRootKeyFile(); p != "" {
		return p, false, nil
	}
	return "", false, errors.New("config: no home directory or XDG_CONFIG_HOME to keep the root key in; set root_key.file (--root-key-file)")
}

// File is the configuration file model (version 1).
type File struct {
	Version      int         `yaml:"version"`
	Listen       string      `yaml:"listen"`
	DataDir      string      `yaml:"data_dir"`
	Region       string      `yaml:"region"`
	AccountID    string      `yaml:"account_id"`
	Store        string      `yaml:"store"`
	InsecureHTTP bool        `yaml:"insecure_http"`
	EnableSM2    bool        `yaml:"enable_sm2"`
	NodeID       string      `yaml:"node_id"`
	TLS          TLSFile     `yaml:"tls"`
	RootKey      RootKeyFile `yaml:"root_key"`
	Audit        AuditFile   `yaml:"audit"`
	Cache        CacheFile   `yaml:"cache"`
	Principals   string      `yaml:"principals"`
	LogLevel     string      `yaml:"log_level"`
	// LogFormat is "text" (default) or "json" (one JSON object a line).
	LogFormat string      `yaml:"log_format"`
	Limits    LimitsFile  `yaml:"limits"`
	Metrics   MetricsFile `yaml:"metrics"`
	K8sKMS    K8sKMSFile  `yaml:"k8s_kms"`
	// KeysFile is the declarative keys file (--keys-file), applied at
	// every start (docs/configuration.md, "The keys file").
	KeysFile string `yaml:"keys_file"`
	// Dev serves the development API (--dev): the administrator account's
	// root may advance the domain clock. Loopback listen addresses only.
	Dev     bool        `yaml:"dev"`
	Console ConsoleFile `yaml:"console"`
	// Peers are the deployments of other Regions that multi-Region keys
	// replicate to (docs/multi-region.md).
	Peers []PeerFile `yaml:"peers"`
	// PeersCAFile is the PEM bundle that peers' HTTPS certificates chain
	// to (default: the system's roots).
	PeersCAFile string     `yaml:"peers_ca_file"`
	Quotas      QuotasFile `yaml:"quotas"`
}

// PeerFile declares one peer deployment: its Region, the endpoint its API
// listens on, and its public replication identity (what `trent admin
// replication-identity` prints there).
type PeerFile struct {
	Region           string `yaml:"region"`
	Endpoint         string `yaml:"endpoint"`
	KEMPublicKey     string `yaml:"kem_public_key"`
	SigningPublicKey string `yaml:"signing_public_key"`
}

// ConsoleFile configures the web console (internal/console), served at
// /console/.
type ConsoleFile struct {
	// Serve is "on" (default) or "off" (--console): off, no listener
	// answers /console/.
	Serve string `yaml:"serve"`
	// Listen, when set, serves the console on a listener of its own
	// (--console-listen) instead of the API's. That listener serves the
	// APIs too, with the same TLS and limits: the console's requests go
	// to its own origin.
	Listen string `yaml:"listen"`
}

// ConsoleOff, as console.serve, serves no console.
const ConsoleOff = "off"

// ConsoleOn reports whether the console is served.
func (f *File) ConsoleOn() bool { return f.Console.Serve != ConsoleOff }

// K8sKMSFile configures the Kubernetes KMS v2 plugin that trent serve runs
// in-process (docs/kubernetes.md). It is off unless Socket is set.
type K8sKMSFile struct {
	// Socket is the unix socket kube-apiserver connects to
	// (--k8s-kms-socket).
	Socket string `yaml:"socket"`
	// KeyID names the key: key ID, key ARN, alias name or alias ARN
	// (--k8s-kms-key-id).
	KeyID string `yaml:"key_id"`
	// ClusterName is the value of the encryption context member
	// "k8s-kms-plugin" (--k8s-kms-cluster-name).
	ClusterName string `yaml:"cluster_name"`
	// AccessKeyID names the principal the plugin acts as: the owner of
	// this access key (--k8s-kms-access-key-id). Its policies and the key
	// policy authorize the plugin's calls, and the trail names it. No
	// secret is needed in-process; deactivating the key stops the plugin.
	AccessKeyID string `yaml:"access_key_id"`
	// Timeout bounds each call (default 2s).
	Timeout time.Duration `yaml:"timeout"`
}

// MetricsFile configures the Prometheus metrics listener.
type MetricsFile struct {
	// Listen is the address of the metrics listener, apart from the API's
	// (default DefaultMetricsListen; "off" serves no metrics). It serves
	// GET /metrics over plain HTTP: the metrics hold no secret, no key
	// ID and no principal, but keep it off public networks.
	Listen string `yaml:"listen"`
}

// MetricsAddr is the metrics listener's address ("" when metrics are
// off), and whether it was configured (a default address taken by another
// process is no reason to refuse to start; a configured one is).
func (f *File) MetricsAddr() (addr string, configured bool) {
	switch f.Metrics.Listen {
	case "":
		return DefaultMetricsListen, false
	case MetricsOff:
		return "", true
	}
	return f.Metrics.Listen, true
}

// TLSFile configures HTTPS.
type TLSFile struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ReloadInterval is how often the node looks at the certificate and
	// key files and, when they have changed, serves the new pair to new
	// connections (default 10s; negative: only on SIGHUP).
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// DefaultTLSReloadInterval is the default of tls.reload_interval.
const DefaultTLSReloadInterval = 10 * time.Second

// RootKeyFile configures the root of trust.
type RootKeyFile struct {
	// Provider is "file" (default) or "pkcs11".
	Provider string `yaml:"provider"`
	// File is the key file path (default DefaultRootKeyFile()). It must
	// not be inside the data directory unless AllowInDataDir is set.
	File string `yaml:"file"`
	// AllowInDataDir accepts a key file inside the data directory. Unsafe:
	// every copy of the data directory then carries the key that unseals
	// it. For throwaway installations only.
	AllowInDataDir bool   `yaml:"allow_in_data_dir"`
	Module         string `yaml:"pkcs11_module"`
	Token          string `yaml:"pkcs11_token"`
	PINFile        string `yaml:"pkcs11_pin_file"`
	KeyLabel       string `yaml:"pkcs11_key_label"`
}

// AuditFile configures the audit trail.
type AuditFile struct {
	Disabled       bool          `yaml:"disabled"`
	Dir            string        `yaml:"dir"`
	DigestInterval time.Duration `yaml:"digest_interval"`
	MaxSegmentMiB  int64         `yaml:"max_segment_mib"`
	MaxAge         time.Duration `yaml:"max_age"`
	Stdout         bool          `yaml:"stdout"`
	// Syslog, when set, also sends each event to syslog: "local" for the
	// local daemon, or "udp://host:514", "tcp://host:514".
	Syslog string `yaml:"syslog"`
	// HeartbeatInterval is the longest time without a digest while no
	// call arrives (default 1h); DigestInterval the period while calls
	// arrive (default 60s). Verify reports a longer gap.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// The free-space watermark of the trail's volume: below the larger of
	// MinFreeMiB (default 256) and MinFreePercent (default 5) of the
	// volume, /readyz reports not ready and an error is logged. Negative
	// disables either.
	MinFreeMiB     int64   `yaml:"min_free_mib"`
	MinFreePercent float64 `yaml:"min_free_percent"`
	// ReserveMiB is the space held back for the trail's own records when
	// the volume fills (default 1; negative disables).
	ReserveMiB int64 `yaml:"reserve_mib"`
	// SpaceCheckInterval is the period of the free-space check (default
	// 5s).
	SpaceCheckInterval time.Duration `yaml:"space_check_interval"`
	// MaxTotalMiB keeps this node's segments under this size in total
	// (retention, off by default, like MaxAge).
	MaxTotalMiB int64 `yaml:"max_total_mib"`
	// ArchiveDir, if set, receives the segments retention removes instead
	// of deleting them.
	ArchiveDir string `yaml:"archive_dir"`
}

// CacheFile configures the key cache.
type CacheFile struct {
	MaxAge time.Duration `yaml:"max_age"`
	Grace  time.Duration `yaml:"grace"`
}

// LimitsFile bounds what clients, authenticated or not, can hold and cost.
// Zero values take the defaults; a negative count or rate disables the
// limit.
type LimitsFile struct {
	// MaxConnections bounds open client connections (default: derived
	// from the file descriptor limit, keeping a reserve for the store, the
	// audit trail and an HSM; see server.DefaultMaxConns).
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerClient bounds the connections of one client
	// address, an IPv4 address or an IPv6 /64 (default a quarter of
	// MaxConnections).
	MaxConnectionsPerClient int `yaml:"max_connections_per_client"`
	// ReadTimeout bounds how long a new connection may take to deliver its
	// first request (TLS handshake included) and any request from its
	// first byte to its last (default 10s).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout bounds a kept-alive connection's wait for its next
	// request (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// FailedAuthRate is how many requests per second that fail
	// authentication one source address may send, after a burst of
	// FailedAuthBurst, before it gets ThrottlingException (default 5).
	FailedAuthRate float64 `yaml:"failed_auth_rate"`
	// FailedAuthBurst is the size of that token bucket (default 25).
	FailedAuthBurst int `yaml:"failed_auth_burst"`
	// FailedAuthInterval is the interval over which failed requests of one
	// source are summarized by one audit record (default 1m).
	FailedAuthInterval time.Duration `yaml:"failed_auth_interval"`
	// FailedAuthLookupRate is how many store lookups per second of access
	// keys not in use the node grants, after a burst of twice as many,
	// to requests from addresses that failed authentication within ten
	// minutes, once lookups of keys that do not exist have spent that
	// budget (default 100).
	FailedAuthLookupRate float64 `yaml:"failed_auth_lookup_rate"`
	// FailedAuthSources bounds the source addresses tracked for failed
	// authentication (default 65,536, about 150 bytes each); further
	// addresses share one budget and are treated as having failed.
	FailedAuthSources int `yaml:"failed_auth_sources"`
}

// validate checks the limits and fills in the defaults that do not depend
// on the process (the connection limits do: see server.ConnLimits).
func (l *LimitsFile) validate() error {
	if l.ReadTimeout < 0 || l.IdleTimeout < 0 || l.FailedAuthInterval < 0 {
		return errors.New("config: limits: timeouts and intervals must not be negative")
	}
	if l.ReadTimeout == 0 {
		l.ReadTimeout = 10 * time.Second
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = 60 * time.Second
	}
	if l.FailedAuthRate == 0 {
		l.FailedAuthRate = 5
	}
	if l.FailedAuthBurst == 0 {
		l.FailedAuthBurst = 25
	}
	if l.FailedAuthBurst < 0 {
		return errors.New("config: limits.failed_auth_burst must not be negative")
	}
	if l.FailedAuthInterval == 0 {
		l.FailedAuthInterval = time.Minute
	}
	if l.FailedAuthLookupRate == 0 {
		l.FailedAuthLookupRate = 100
	}
	if l.FailedAuthSources == 0 {
		l.FailedAuthSources = 65536
	}
	if l.FailedAuthSources < 0 {
		return errors.New("config: limits.failed_auth_sources must not be negative")
	}
	return nil
}

// Load reads and strictly parses a configuration file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	empty := fmt.Errorf("config: %s is empty (it holds no settings); write at least \"version: 1\", or leave out --config to use the defaults", path)
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			// yaml.v3 reports a file without a document (empty, or only
			// comments) as a bare EOF, which names neither file nor cause.
			return nil, empty
		}
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	// A document that is only "---", "null" or "~" decodes as no
	// settings at all, like an empty file.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && (len(doc.Content) == 0 || doc.Content[0].Tag == "!!null") {
		return nil, empty
	}
	// Only the first document is decoded: settings in a second one
	// ("---" and more) would be ignored without a word.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		if len(extra.Content) > 0 && extra.Content[0].Tag != "!!null" {
			return nil, fmt.Errorf("config: %s: line %d: a second YAML document (after \"---\"); Trent reads one document: merge the settings into the first", path, extra.Line)
		}
	}
	if f.Version != 0 && f.Version != 1 {
		return nil, fmt.Errorf("config: %s: unsupported version %d (this Trent reads version 1)", path, f.Version)
	}
	return &f, nil
}

// Validate checks settings and fills in defaults.
func (f *File) Validate() error {
	if f.Listen == "" {
		f.Listen = DefaultListen
	}
	if f.Region == "" {
		f.Region = DefaultRegion
	}
	if f.AccountID == "" {
		f.AccountID = DefaultAccountID
	}
	if f.DataDir == "" {
		f.DataDir = DefaultDataDir()
	}
	if len(f.AccountID) != 12 || strings.Trim(f.AccountID, "0123456789") != "" {
		return fmt.Errorf("config: account ID %q must be 12 digits", f.AccountID)
	}
	if err := f.Quotas.validate(); err != nil {
		return err
	}
	if !validRegion(f.Region) {
		return fmt.Errorf("config: region %q is not a region name like us-east-1", f.Region)
	}
	if (f.TLS.Cert == "") != (f.TLS.Key == "") {
		return errors.New("config: --tls-cert and --tls-key go together")
	}
	if k := f.K8sKMS; k.Socket != "" && (k.KeyID == "" || k.ClusterName == "" || k.AccessKeyID == "") {
		return errors.New("config: the in-process Kubernetes KMS plugin (--k8s-kms-socket) needs --k8s-kms-key-id, --k8s-kms-cluster-name and --k8s-kms-access-key-id")
	}
	host, _, err := net.SplitHostPort(f.Listen)
	if err != nil {
		return fmt.Errorf("config: listen address %q: %w", f.Listen, err)
	}
	if f.TLS.Cert == "" && !f.InsecureHTTP && !isLoopback(host) {
		return fmt.Errorf("config: refusing to serve plain HTTP on non-loopback address %s; configure --tls-cert/--tls-key or pass --insecure-http", f.Listen)
	}
	if f.Dev && !isLoopback(host) {
		return fmt.Errorf("config: refusing --dev on non-loopback address %s: the development clock is for a developer's own machine; listen on 127.0.0.1 or ::1", f.Listen)
	}
	if f.TLS.ReloadInterval == 0 {
		f.TLS.ReloadInterval = DefaultTLSReloadInterval
	}
	if f.LogFormat != "" && f.LogFormat != "text" && f.LogFormat != "json" {
		return fmt.Errorf("config: log format %q: want text or json", f.LogFormat)
	}
	if f.Console.Serve != "" && f.Console.Serve != "on" && f.Console.Serve != ConsoleOff {
		return fmt.Errorf("config: console %q: want on or off", f.Console.Serve)
	}
	if addr := f.Console.Listen; addr != "" && f.ConsoleOn() {
		chost, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("config: console listen address %q: %w", addr, err)
		}
		if addr == f.Listen && port != "0" {
			return fmt.Errorf("config: console listen address %s is the API's: leave --console-listen unset to serve the console there", addr)
		}
		if f.TLS.Cert == "" && !f.InsecureHTTP && !isLoopback(chost) {
			return fmt.Errorf("config: refusing to serve the console over plain HTTP on non-loopback address %s; configure --tls-cert/--tls-key or pass --insecure-http", addr)
		}
	}
	if addr, _ := f.MetricsAddr(); addr != "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("config: metrics listen address %q (or \"off\"): %w", addr, err)
		}
		if addr == f.Listen && port != "0" {
			return fmt.Errorf("config: metrics listen address %s is the API's: metrics are served on a listener of their own", addr)
		}
	}
	if f.RootKey.Provider == "" {
		f.RootKey.Provider = "file"
	}
	if f.Audit.Dir == "" {
		f.Audit.Dir = filepath.Join(f.DataDir, "audit")
	}
	return f.Limits.validate()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validRegion(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(parts) > 4 {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" {
			return false
		}
	}
	last := parts[len(parts)-1]
	return last != "" && strings.Trim(last, "0123456789") == ""
}
