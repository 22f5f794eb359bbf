package grant

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

// TestContextConditionsCollisions: over random encryption contexts whose
// keys collide under case folding, kms:EncryptionContext:<key> holds the
// value of the one key that folds to it, or the ambiguity marker when
// several do, whatever order the context's map yields its keys in;
// kms:EncryptionContextKeys lists the keys as sent; and the grant path's
// context rebuilt from the conditions keeps every key.
func TestContextConditionsCollisions(t *testing.T) {
	t.Parallel()
	keys := []string{"dept", "Dept", "DEPT", "app", "App", "x", "Äbc", "äbc", "\u212aey", "key"}
	vals := []string{"finance", "hr", "Finance"}
	r := rand.New(rand.NewPCG(4, 16))
	ambiguous := 0
	for i := 0; i < 3000; i++ {
		var order []string
		ec := map[string]string{}
		for n := 1 + r.IntN(5); n > 0; n-- {
			k := keys[r.IntN(len(keys))]
			if _, dup := ec[k]; !dup {
				order = append(order, k)
			}
			ec[k] = vals[r.IntN(len(vals))]
		}
		groups := map[string][]string{}
		for k := range ec {
			groups[strings.ToLower(k)] = append(groups[strings.ToLower(k)], k)
		}
		for try := 0; try < 4; try++ {
			r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			built := make(map[string]string, len(order))
			for _, k := range order {
				built[k] = ec[k]
			}
			conds := kms.ContextConditions(map[string][]string{"kms:encryptionalgorithm": {"SYMMETRIC_DEFAULT"}}, built)
			for folded, members := range groups {
				v := conds["kms:encryptioncontext:"+folded]
				switch {
				case len(members) > 1:
					if len(v) != 1 || &v[0] != &policy.Ambiguous()[0] {
						t.Fatalf("context %v: %s = %q, want the ambiguity marker", ec, folded, v)
					}
					ambiguous++
				case len(v) != 1 || v[0] != ec[members[0]]:
					t.Fatalf("context %v: %s = %q, want %q", ec, folded, v, ec[members[0]])
				}
			}
			if got := conds["kms:encryptioncontextkeys"]; len(got) != len(ec) {
				t.Fatalf("context %v: keys %q", ec, got)
			}
			if got := contextFromConditions(conds); len(got) != len(ec) {
				t.Fatalf("context %v: rebuilt %v", ec, got)
			}
		}
	}
	if ambiguous == 0 {
		t.Fatal("generator made no collisions")
	}
}
