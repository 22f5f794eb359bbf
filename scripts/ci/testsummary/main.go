// Command testsummary reads `go test -json` on standard input and prints what
// a plain `go test` prints (a line per package, and the whole output of every
// failed test), followed by every skipped test and its reason, so that a run
// shows what it did not test. It exits non-zero if a test or a package
// failed, or if the input ended without a result for a package.
//
//	go test -json ./... | go run ./scripts/ci/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// event is one line of test2json output.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	outputs := map[string]*strings.Builder{} // package + "\x00" + test -> output
	started := map[string]bool{}             // packages seen
	done := map[string]bool{}                // packages with a result
	var skips []string
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not test2json (a build error printed by go itself).
			fmt.Println(sc.Text())
			continue
		}
		started[e.Package] = true
		id := e.Package + "\x00" + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package-level lines: "ok pkg 1.2s", "FAIL", build errors.
				if !strings.HasPrefix(e.Output, "=== ") && e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "testing: warning") {
					fmt.Print(e.Output)
				}
				continue
			}
			b := outputs[id]
			if b == nil {
				b = &strings.Builder{}
				outputs[id] = b
			}
			b.WriteString(e.Output)
		case "fail":
			failed = true
			if e.Test == "" {
				done[e.Package] = true
				continue
			}
			if b := outputs[id]; b != nil {
				fmt.Print(b.String())
			}
		case "pass":
			if e.Test == "" {
				done[e.Package] = true
			}
		case "skip":
			if e.Test == "" {
				done[e.Package] = true
				continue
			}
			skips = append(skips, e.Package+" "+e.Test+": "+reason(outputs[id]))
		}
		if e.Action == "pass" || e.Action == "skip" {
			delete(outputs, id)
		}
	}
	for p := range started {
		if !done[p] {
			fmt.Printf("testsummary: no result for package %s (the test binary died?)\n", p)
			failed = true
		}
	}
	if len(skips) > 0 {
		sort.Strings(skips)
		fmt.Printf("\nskipped tests (%d):\n", len(skips))
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// reason is the last message a skipped test logged (its t.Skip argument).
func reason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var last string
	for _, l := range strings.Split(b.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		last = l
	}
	if last == "" {
		return "(no reason given)"
	}
	return last
}
