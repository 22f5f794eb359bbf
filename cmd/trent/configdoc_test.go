package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
)

// serveFlags returns the names of trent serve's flags, from its usage.
// Not parallel: it borrows os.Stderr, where the flag set prints it.
func serveFlags(t *testing.T) []string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	err = runServe([]string{"-h"}, config.Env{})
	os.Stderr = stderr
	w.Close()
	usage, _ := io.ReadAll(r)
	if err != flag.ErrHelp {
		t.Fatalf("serve -h: %v", err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(usage), -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("found %d flags in serve's usage:\n%s", len(names), usage)
	}
	return names
}

// yamlKeys returns the dotted keys of the configuration file's model.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			keys = append(keys, yamlKeys(f.Type, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

// yamlValues returns the dotted keys of v (a config.File) that hold a value
// other than their zero, formatted.
func yamlValues(v reflect.Value, prefix string) map[string]string {
	out := map[string]string{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			for k, s := range yamlValues(fv, prefix+tag+".") {
				out[k] = s
			}
			continue
		}
		if fv.IsZero() {
			continue
		}
		out[prefix+tag] = fmt.Sprint(fv.Interface())
	}
	return out
}

// envNames returns every variable config.FromEnv reads, and the defaults'
// (XDG_DATA_HOME, XDG_CONFIG_HOME).
func envNames() []string {
	seen := map[string]bool{"XDG_DATA_HOME": true, "XDG_CONFIG_HOME": true}
	config.FromEnv(func(name string) (string, bool) {
		seen[name] = true
		return "", false
	})
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// tableColumn returns column col (0-based) of the rows of the Markdown
// table under heading in md.
func tableColumn(t *testing.T, md, heading string, col int) []string {
	t.Helper()
	_, rest, ok := strings.Cut(md, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/configuration.md has no heading %q", heading)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var cells []string
	header := true
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		if header { // the row of column names
			header = false
			continue
		}
		parts := strings.Split(line, " | ")
		if col < len(parts) {
			cells = append(cells, strings.Trim(parts[col], "| "))
		}
	}
	if len(cells) < 3 {
		t.Fatalf("docs/configuration.md: the table under %q has %d rows", heading, len(cells))
	}
	return cells
}

var backticked = regexp.MustCompile("`([^`]+)`")

// TestConfigurationReference holds docs/configuration.md to the code: every
// flag of trent serve, every key of the configuration file and every
// environment variable is listed, and nothing listed is gone.
func TestConfigurationReference(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)

	// Flags: the first column of the flags table, both ways.
	flags := serveFlags(t)
	documented := map[string]bool{}
	flagKey := map[string]string{}
	flagCol := tableColumn(t, md, "## Flags of `trent serve` and their keys", 0)
	keyCol := tableColumn(t, md, "## Flags of `trent serve` and their keys", 1)
	for i, cell := range flagCol {
		for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
			name, _, _ := strings.Cut(strings.TrimPrefix(m[1], "--"), " ")
			documented[name] = true
			if k := strings.Trim(keyCol[i], "`"); k != "—" {
				flagKey[name] = k
			}
		}
	}
	isFlag := map[string]bool{}
	for _, f := range flags {
		isFlag[f] = true
		if !documented[f] {
			t.Errorf("flag --%s of trent serve is not in docs/configuration.md", f)
		}
	}
	for f := range documented {
		if !isFlag[f] {
			t.Errorf("docs/configuration.md lists --%s, which trent serve does not have", f)
		}
	}

	// The README's table names only flags that exist.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, conf, _ := strings.Cut(string(readme), "\n## Configuration\n")
	conf, _, _ = strings.Cut(conf, "\n## ")
	readmeFlags := 0
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)").FindAllStringSubmatch(conf, -1) {
		readmeFlags++
		if !isFlag[m[1]] {
			t.Errorf("README.md's configuration table lists --%s, which trent serve does not have", m[1])
		}
	}
	if readmeFlags < 10 {
		t.Errorf("found %d flags in README.md's configuration table", readmeFlags)
	}

	// Keys: in the flags table or the table of the file's own keys, both
	// ways.
	keys := yamlKeys(reflect.TypeFor[config.File](), "")
	listed := map[string]bool{}
	for _, k := range flagKey {
		listed[k] = true
	}
	for _, cell := range tableColumn(t, md, "## Keys of the file only", 0) {
		listed[strings.Trim(cell, "`")] = true
	}
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
		if !listed[k] {
			t.Errorf("configuration key %s is not in docs/configuration.md", k)
		}
	}
	for k := range listed {
		if !isKey[k] {
			t.Errorf("docs/configuration.md lists key %s, which the configuration file does not have", k)
		}
	}

	// Defaults: what Validate fills into an empty file is what the table
	// says (paths, which depend on the home directory, aside).
	defaults := map[string]string{}
	for i, cell := range flagCol {
		for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
			name, _, _ := strings.Cut(strings.TrimPrefix(m[1], "--"), " ")
			if k := flagKey[name]; k != "" {
				defaults[k] = tableColumn(t, md, "## Flags of `trent serve` and their keys", 2)[i]
			}
		}
	}
	fileKeys := tableColumn(t, md, "## Keys of the file only", 0)
	for i, d := range tableColumn(t, md, "## Keys of the file only", 1) {
		defaults[strings.Trim(fileKeys[i], "`")] = d
	}
	var empty config.File
	if err := empty.Validate(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, v := range yamlValues(reflect.ValueOf(empty), "") {
		if strings.Contains(v, "/") {
			continue
		}
		doc := defaults[key]
		m := backticked.FindStringSubmatch(doc)
		if m == nil {
			t.Errorf("docs/configuration.md: key %s defaults to %s, the table says %q", key, v, doc)
			continue
		}
		got := m[1]
		if d, err := time.ParseDuration(got); err == nil {
			got = d.String()
		}
		if got != v {
			t.Errorf("docs/configuration.md: key %s defaults to %s, the table says %q", key, v, doc)
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("only %d defaults checked", checked)
	}

	// The environment: every variable read is in the table, and every
	// TRENT_ variable of the table is read.
	env := envNames()
	envCells := strings.Join(tableColumn(t, md, "## Environment", 0), " ")
	inTable := map[string]bool{}
	for _, m := range regexp.MustCompile(`[A-Z][A-Z0-9_]*[A-Z0-9]`).FindAllString(envCells, -1) {
		inTable[m] = true
	}
	read := map[string]bool{}
	for _, n := range env {
		read[n] = true
		if !inTable[n] {
			t.Errorf("environment variable %s is not in docs/configuration.md", n)
		}
	}
	for n := range inTable {
		if strings.HasPrefix(n, "TRENT_") && !read[n] {
			t.Errorf("docs/configuration.md lists %s, which Trent does not read", n)
		}
	}
}
