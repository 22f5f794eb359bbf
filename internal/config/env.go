package config

import (
	"fmt"
	"strings"
)

// Env is what Trent takes from the process environment. FromEnv reads it,
// once, when a command starts (cmd/trent); everything else takes it, or the
// part it needs, as a value. This file and the defaults above
// (DefaultDataDir, ConfigDir: XDG_DATA_HOME, XDG_CONFIG_HOME and the home
// directory) are the only places outside tests where Trent reads the
// environment. The variables:
//
//	TRENT_ACCESS_KEY_ID, TRENT_SECRET_ACCESS_KEY  the administrator credential a node
//	                                  bootstraps at its first start (serve);
//	                                  trent bench's credential after AWS_*
//	TRENT_ROOT_KEY                    the root key itself, 64 hex digits, instead
//	                                  of a key file (serve, admin)
//	TRENT_HSM_MODULE, TRENT_HSM_TOKEN, TRENT_HSM_PIN  PKCS#11 module, token label and
//	                                  user PIN where the configuration file leaves
//	                                  them out (root key provider pkcs11; the module
//	                                  of CloudHSM-type key stores; xks-proxy)
//	TRENT_XKS_CA_FILE                 PEM roots the XKS client trusts (default: the
//	                                  system's)
//	TRENT_XKS_ACCESS_KEY_ID, TRENT_XKS_SECRET_ACCESS_KEY, and the same with _2
//	                                  the credentials trent xks-proxy accepts
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN  trent bench's credential
//	GOGC, GOMAXPROCS                  when set, trent serve leaves the Go runtime's
//	                                  setting alone
//	TRENT_TEST_SCHEDULER_INTERVAL, TRENT_TEST_CLOCK_FILE  test hooks, honoured only by
//	                                  a binary built with the trenttest tag (TestHooks)
//	any name a principals file gives as secret_env  (Secret)
//
// One command is an AWS client rather than a server: trent k8s-kms-plugin
// takes its credentials, Region and CA bundle from the AWS SDK's default
// chain, which reads the AWS_* variables (AWS_ACCESS_KEY_ID, AWS_PROFILE,
// AWS_CONFIG_FILE, AWS_CA_BUNDLE, ...) and the shared files itself.
//
// An empty variable counts as unset.
type Env struct {
	// AccessKeyID and SecretAccessKey are TRENT_ACCESS_KEY_ID and
	// TRENT_SECRET_ACCESS_KEY.
	AccessKeyID     string
	SecretAccessKey string
	// RootKey is TRENT_ROOT_KEY.
	RootKey string
	// HSM holds TRENT_HSM_MODULE, TRENT_HSM_TOKEN and TRENT_HSM_PIN.
	HSM HSMEnv
	// XKSCAFile is TRENT_XKS_CA_FILE.
	XKSCAFile string
	// XKSProxyCredentials are the complete credential sets of
	// TRENT_XKS_ACCESS_KEY_ID / TRENT_XKS_SECRET_ACCESS_KEY and
	// TRENT_XKS_ACCESS_KEY_ID_2 / TRENT_XKS_SECRET_ACCESS_KEY_2 (a second
	// set while credentials rotate), in that order.
	XKSProxyCredentials []XKSCredential
	// AWSAccessKeyID, AWSSecretAccessKey and AWSSessionToken are
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
	AWSAccessKeyID     string
	AWSSecretAccessKey string
	AWSSessionToken    string
	// GOGCSet and GOMAXPROCSSet say whether GOGC and GOMAXPROCS are set.
	GOGCSet       bool
	GOMAXPROCSSet bool
	// Test holds the test hooks.
	Test TestHooks

	// lookup resolves Secret's names; nil resolves none.
	lookup func(string) (string, bool)
}

// HSMEnv is the PKCS#11 part of the environment.
type HSMEnv struct {
	// Module is TRENT_HSM_MODULE: the PKCS#11 library.
	Module string
	// Token is TRENT_HSM_TOKEN: the token label.
	Token string
	// PIN is TRENT_HSM_PIN: the token user's PIN.
	PIN string
}

// XKSCredential is an access key ID and secret that trent xks-proxy
// accepts.
type XKSCredential struct {
	AccessKeyID     string
	SecretAccessKey string
}

// TestHooks are the test-only environment variables. Black-box tests set
// them on the trent processes they start (test/cluster, test/security); only
// a binary built with the trenttest build tag honours them (see
// internal/node), and the production build ignores them. Their values are
// kept as written: the node parses them.
type TestHooks struct {
	// SchedulerInterval is TRENT_TEST_SCHEDULER_INTERVAL, a Go duration:
	// how often the node looks for due jobs (default 1 s).
	SchedulerInterval string
	// ClockFile is TRENT_TEST_CLOCK_FILE, a path: the domain clock (key
	// dates, due jobs; not SigV4, not the audit trail) runs ahead of the
	// wall clock by the Go duration written in that file, re-read every
	// 100 ms.
	ClockFile string
}

// Set reports whether any test hook is set.
func (h TestHooks) Set() bool { return h.SchedulerInterval != "" || h.ClockFile != "" }

// Environment variable names that are not fields' own (the test hooks',
// which tests set by name).
const (
	EnvTestSchedulerInterval = "TRENT_TEST_SCHEDULER_INTERVAL"
	EnvTestClockFile         = "TRENT_TEST_CLOCK_FILE"
)

// FromEnv reads Env through lookup (os.LookupEnv in the trent command);
// Secret keeps using lookup afterwards.
func FromEnv(lookup func(string) (string, bool)) Env {
	get := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	e := Env{
		AccessKeyID:        get("TRENT_ACCESS_KEY_ID"),
		SecretAccessKey:    get("TRENT_SECRET_ACCESS_KEY"),
		RootKey:            get("TRENT_ROOT_KEY"),
		HSM:                HSMEnv{Module: get("TRENT_HSM_MODULE"), Token: get("TRENT_HSM_TOKEN"), PIN: get("TRENT_HSM_PIN")},
		XKSCAFile:          get("TRENT_XKS_CA_FILE"),
		AWSAccessKeyID:     get("AWS_ACCESS_KEY_ID"),
		AWSSecretAccessKey: get("AWS_SECRET_ACCESS_KEY"),
		AWSSessionToken:    get("AWS_SESSION_TOKEN"),
		GOGCSet:            get("GOGC") != "",
		GOMAXPROCSSet:      get("GOMAXPROCS") != "",
		Test:               TestHooks{SchedulerInterval: get(EnvTestSchedulerInterval), ClockFile: get(EnvTestClockFile)},
		lookup:             lookup,
	}
	for _, sfx := range []string{"", "_2"} {
		id, secret := get("TRENT_XKS_ACCESS_KEY_ID"+sfx), get("TRENT_XKS_SECRET_ACCESS_KEY"+sfx)
		if id != "" && secret != "" {
			e.XKSProxyCredentials = append(e.XKSProxyCredentials, XKSCredential{AccessKeyID: id, SecretAccessKey: secret})
		}
	}
	return e
}

// Secret returns the environment variable name, which a principals file
// names in a secret_env field, or "" if it is unset or e was not read by
// FromEnv.
func (e Env) Secret(name string) string {
	if e.lookup == nil {
		return ""
	}
	v, _ := e.lookup(name)
	return v
}

// String names the variables e holds, never their values: Env carries
// secrets (the administrator's secret key, the root key, the HSM PIN), and
// fmt prints a struct's fields through String, so an Env logged by mistake,
// alone or inside options, shows no secret.
func (e Env) String() string {
	var set []string
	add := func(name, v string) {
		if v != "" {
			set = append(set, name)
		}
	}
	add("TRENT_ACCESS_KEY_ID", e.AccessKeyID)
	add("TRENT_SECRET_ACCESS_KEY", e.SecretAccessKey)
	add("TRENT_ROOT_KEY", e.RootKey)
	add("TRENT_HSM_MODULE", e.HSM.Module)
	add("TRENT_HSM_TOKEN", e.HSM.Token)
	add("TRENT_HSM_PIN", e.HSM.PIN)
	add("TRENT_XKS_CA_FILE", e.XKSCAFile)
	if len(e.XKSProxyCredentials) > 0 {
		set = append(set, fmt.Sprintf("%d XKS proxy credential(s)", len(e.XKSProxyCredentials)))
	}
	add("AWS_ACCESS_KEY_ID", e.AWSAccessKeyID)
	add("AWS_SECRET_ACCESS_KEY", e.AWSSecretAccessKey)
	add("AWS_SESSION_TOKEN", e.AWSSessionToken)
	add(EnvTestSchedulerInterval, e.Test.SchedulerInterval)
	add(EnvTestClockFile, e.Test.ClockFile)
	return "config.Env{set: " + strings.Join(set, ", ") + "}"
}

// String says which settings h holds, never the PIN.
func (h HSMEnv) String() string {
	return fmt.Sprintf("config.HSMEnv{Module: %q, Token: %q, PIN set: %v}", h.Module, h.Token, h.PIN != "")
}

// String names the access key ID, never the secret.
func (c XKSCredential) String() string {
	return "config.XKSCredential{AccessKeyID: " + c.AccessKeyID + "}"
}

// GoString is String, for %#v.
func (e Env) GoString() string { return e.String() }

// GoString is String, for %#v.
func (h HSMEnv) GoString() string { return h.String() }

// GoString is String, for %#v.
func (c XKSCredential) GoString() string { return c.String() }
