package golden

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// notOnTheWire lists exceptions used under internal/ that no golden case
// can provoke yet, with the reason. Remove an entry when its case exists.
var notOnTheWire = map[string]string{
	"KMSInternalException":                               "Trent's own faults; no request provokes one on purpose",
	"InternalFailure":                                    "Trent's own faults",
	"KeyUnavailableException":                            "needs an unreachable key store",
	"DependencyTimeoutException":                         "needs a store that times out",
	"ThrottlingException":                                "needs a flood of failed authentications; test/security covers it",
	"ExpiredTokenException":                              "needs an expired STS session credential",
	"RequestEntityTooLargeException":                     "bodies are limited per operation; test/security and internal/server cover it",
	"InvalidAction":                                      "IAM/STS query API, not the KMS JSON protocol",
	"ConflictException":                                  "needs a concurrent update race",
	"IncorrectKeyMaterialException":                      "needs correctly wrapped, wrong key material",
	"ExpiredImportTokenException":                        "needs a clock past the import token's validity",
	"CustomKeyStoreInvalidStateException":                "needs a connected custom key store (a CloudHSM cluster or an XKS proxy)",
	"CustomKeyStoreHasCMKsException":                     "needs a custom key store with keys",
	"CustomKeyStoreNameInUseException":                   "needs a second store of the same name; the first needs a live backend",
	"CloudHsmClusterInUseException":                      "needs a CloudHSM cluster",
	"CloudHsmClusterNotRelatedException":                 "needs a CloudHSM cluster (test/hsm covers it with SoftHSM2)",
	"CloudHsmClusterInvalidConfigurationException":       "needs a CloudHSM cluster",
	"XksKeyAlreadyInUseException":                        "needs an XKS proxy on loopback",
	"XksKeyInvalidConfigurationException":                "needs an XKS proxy on loopback",
	"XksKeyNotFoundException":                            "needs an XKS proxy on loopback",
	"XksProxyIncorrectAuthenticationCredentialException": "needs an XKS proxy on loopback",
	"XksProxyInvalidConfigurationException":              "needs an XKS proxy on loopback",
	"XksProxyInvalidResponseException":                   "needs an XKS proxy on loopback",
	"XksProxyUriInUseException":                          "needs a second store on the same proxy URI",
}

// exceptionsUsed returns the exception names of awserr constants referenced
// by non-test code under internal/.
func exceptionsUsed(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../internal/awserr/awserr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	used := map[string][]string{}
	err = filepath.WalkDir("../../internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil // another engineer's file mid-edit; the build catches it
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "awserr" {
					if v, ok := consts[sel.Sel.Name]; ok && isException(v) {
						used[v] = append(used[v], path)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// isException tells exception names from the other awserr constants
// (validation constraint texts).
func isException(v string) bool {
	return strings.HasSuffix(v, "Exception") || v == "InvalidAction" || v == "InternalFailure"
}

var typeRe = regexp.MustCompile(`"__type": "([A-Za-z]+)"`)

// TestExceptionCoverage fails if an exception Trent can return has neither
// a golden case nor an entry in notOnTheWire.
func TestExceptionCoverage(t *testing.T) {
	covered := map[string]bool{}
	for _, path := range caseFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range typeRe.FindAllStringSubmatch(string(data), -1) {
			covered[m[1]] = true
		}
	}
	used := exceptionsUsed(t)
	if len(used) < 10 {
		t.Fatalf("found only %d exceptions under internal/; is the scan broken?", len(used))
	}
	var missing []string
	for name, files := range used {
		if !covered[name] && notOnTheWire[name] == "" {
			missing = append(missing, name+" (used in "+files[0]+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no golden case returns %s: add one under testdata/, or list it in notOnTheWire with the reason", m)
	}
	for name := range notOnTheWire {
		if covered[name] {
			t.Errorf("%s now has a golden case: remove it from notOnTheWire", name)
		}
	}
}
