// Package arch holds the import rules of docs/architecture.md as a test, so
// that a change that breaks the layering fails CI instead of eroding it.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/trentkms/trent/"

// deps returns every package pkg depends on, directly or not.
func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		m[l] = true
	}
	return m
}

// path is the import path of p: Trent's own packages are named without the
// module prefix in this file, the rest by their full path.
func path(p string) string {
	if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") {
		return mod + p
	}
	return p
}

// The domain: the core and the concerns beside it, and what they build on.
// None of it may reach the network, HTTP serving or the cgo PKCS#11 code;
// custom key stores reach an HSM or an XKS proxy only through the adapters
// under internal/keystore, which implement interfaces the core defines.
var domain = []string{
	"internal/wire", "internal/kms", "internal/grant", "internal/keyimport", "internal/job",
	"internal/managed",
	"internal/policy", "internal/authz", "internal/algo", "internal/ciphertext", "internal/keyring",
	"internal/arn", "internal/store", "internal/rootkey", "internal/awserr", "internal/reseal", "internal/uuid",
	"internal/replica",
}

func TestDomainLinksNoTransportOrHSM(t *testing.T) {
	forbidden := []string{
		"net/http", "github.com/valyala/fasthttp",
		"internal/hsm", "internal/xks", "internal/keystore", "internal/rootkey/pkcs11",
		"internal/server", "internal/iamapi", "internal/api", "internal/audit",
		"internal/metrics", "github.com/prometheus/client_golang/prometheus",
	}
	for _, p := range domain {
		d := deps(t, p)
		for _, f := range forbidden {
			if d[path(f)] {
				t.Errorf("%s depends on %s", p, f)
			}
		}
	}
}

// The shapes of the wire are leaves: they import nothing of Trent's.
func TestWireIsALeaf(t *testing.T) {
	for p := range deps(t, "internal/wire") {
		if strings.HasPrefix(p, mod) && p != path("internal/wire") {
			t.Errorf("internal/wire depends on %s", p)
		}
	}
}

// The logger is a leaf: any package may log with a request's context
// without importing the pipeline.
func TestLogsIsALeaf(t *testing.T) {
	for p := range deps(t, "internal/logs") {
		if strings.HasPrefix(p, mod) && p != path("internal/logs") {
			t.Errorf("internal/logs depends on %s", p)
		}
	}
}

// Shamir's secret sharing is pure arithmetic over GF(2^8): a leaf that
// imports nothing of Trent's, so its tests are all it takes to trust it.
func TestShamirIsALeaf(t *testing.T) {
	for p := range deps(t, "internal/shamir") {
		if strings.HasPrefix(p, mod) && p != path("internal/shamir") {
			t.Errorf("internal/shamir depends on %s", p)
		}
	}
}

// Backups, restore, migration and root key escrow are operations on an
// installation, run by cmd/trent beside the server: nothing of the domain
// depends on them (they depend on the store, the root key and the audit
// trail, never the other way).
func TestDomainBelowRecovery(t *testing.T) {
	for _, p := range domain {
		d := deps(t, p)
		for _, f := range []string{"internal/backup", "internal/escrow", "internal/shamir"} {
			if d[path(f)] {
				t.Errorf("%s depends on %s", p, f)
			}
		}
	}
	// Not vacuous: the command does reach them.
	d := deps(t, "cmd/trent")
	for _, f := range []string{"internal/backup", "internal/escrow", "internal/shamir"} {
		if !d[path(f)] {
			t.Errorf("cmd/trent does not depend on %s: go list -deps sees nothing?", f)
		}
	}
}

// The rules above would pass vacuously if deps saw nothing: the adapters do
// reach what the domain may not.
func TestRulesSeeDependencies(t *testing.T) {
	d := deps(t, "internal/keystore")
	for _, f := range []string{"internal/xks", "internal/hsm", "net/http", "internal/kms"} {
		if !d[path(f)] {
			t.Errorf("internal/keystore does not depend on %s: go list -deps sees nothing?", f)
		}
	}
}

// The domain does not know the protocols: no package of the core or its
// concerns depends on the API table or on anything above it.
func TestCoreBelowItsConcerns(t *testing.T) {
	d := deps(t, "internal/kms")
	for _, c := range []string{"internal/grant", "internal/keyimport", "internal/keystore", "internal/job", "internal/api", "internal/managed"} {
		if d[path(c)] {
			t.Errorf("internal/kms depends on %s: the concerns sit beside the core, over it", c)
		}
	}
}

// The HTTP server serves; it does not build a node. Assembly (stores, root
// keys, the data directory's lock) lives in internal/node, above it.
func TestServerBuildsNoNode(t *testing.T) {
	d := deps(t, "internal/server")
	for _, f := range []string{"internal/node", "internal/store/sqlite", "internal/store/postgres", "internal/rootkey/pkcs11", "internal/dirlock"} {
		if d[path(f)] {
			t.Errorf("internal/server depends on %s", f)
		}
	}
}

// The Kubernetes KMS plugin is a protocol like the others: it serves
// kube-apiserver over gRPC and reaches Trent through a Backend, never by
// assembling a node. The binary links k8s.io/kms (the API and its gRPC
// server) and nothing heavier of Kubernetes: kube-apiserver's own code is
// only in test/k8s, a module of its own.
func TestK8sPluginIsAProtocol(t *testing.T) {
	d := deps(t, "internal/k8skms")
	for _, f := range []string{"internal/node", "internal/server", "internal/kms", "internal/store"} {
		if d[path(f)] {
			t.Errorf("internal/k8skms depends on %s", f)
		}
	}
	if !d["k8s.io/kms/apis/v2"] {
		t.Error("internal/k8skms does not depend on k8s.io/kms/apis/v2: go list -deps sees nothing?")
	}
	for p := range deps(t, "cmd/trent") {
		for _, heavy := range []string{"k8s.io/apiserver", "k8s.io/apimachinery", "k8s.io/client-go", "k8s.io/api/"} {
			if strings.HasPrefix(p, heavy) {
				t.Errorf("cmd/trent links %s", p)
			}
		}
	}
}

// The web console has no privilege of its own: its package serves
// embedded files and imports nothing of Trent's, so it cannot reach the
// store, the principals or the domain; the browser calls the APIs like
// any client.
func TestConsoleIsALeaf(t *testing.T) {
	for p := range deps(t, "internal/console") {
		if strings.HasPrefix(p, mod) && p != path("internal/console") {
			t.Errorf("internal/console depends on %s", p)
		}
	}
	if !deps(t, "internal/server")[path("internal/console")] {
		t.Error("internal/server does not depend on internal/console: go list -deps sees nothing?")
	}
}
