package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Ops lists the operations the load generator can send, in display order.
var Ops = []string{"Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "Sign", "Verify", "GenerateMac", "DescribeKey", "CreateKey"}

// WeightedOp is one entry of an operation mix.
type WeightedOp struct {
	Op     string
	Weight int
}

// Mix is a weighted set of operations; each request picks one with
// probability proportional to its weight.
type Mix []WeightedOp

// ParseMix parses "Encrypt=5,Decrypt=5,GenerateDataKey=1". A bare name means
// weight 1. It returns an error for an unknown operation (names are
// case-sensitive, as on the wire), a duplicate, a weight that is not a
// positive integer, or an empty mix.
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bench: mix %q: weight of %s must be a positive integer", s, name)
			}
			weight = n
		}
		if !knownOp(name) {
			return nil, fmt.Errorf("bench: mix %q: unknown operation %q (want one of %s)", s, name, strings.Join(Ops, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("bench: mix %q: %s listed twice", s, name)
		}
		seen[name] = true
		m = append(m, WeightedOp{name, weight})
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("bench: empty operation mix")
	}
	return m, nil
}

func knownOp(name string) bool {
	for _, o := range Ops {
		if o == name {
			return true
		}
	}
	return false
}

// String formats m the way ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, w := range m {
		parts[i] = w.Op + "=" + strconv.Itoa(w.Weight)
	}
	return strings.Join(parts, ",")
}

// picker maps a uniform random number in [0, total) to an index into a mix.
type picker struct {
	cum   []int
	total int
}

func newPicker(m Mix) picker {
	p := picker{cum: make([]int, len(m))}
	for i, w := range m {
		p.total += w.Weight
		p.cum[i] = p.total
	}
	return p
}

func (p picker) pick(r int) int {
	for i, c := range p.cum {
		if r < c {
			return i
		}
	}
	return len(p.cum) - 1
}

// has reports whether the mix includes op.
func (m Mix) has(op string) bool {
	for _, w := range m {
		if w.Op == op {
			return true
		}
	}
	return false
}
