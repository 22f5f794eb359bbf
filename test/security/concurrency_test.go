package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// Issue 15, item 6: the control plane serializes; it does not fail. Before
// the fix, 100 concurrent UpdateKeyDescription calls on one key got 36-64
// HTTP 500s ("too many concurrent updates"), and 32 concurrent CreateGrant
// calls at a key's grant quota left 50,002 grants. These tests race
// mutations of one key, one alias and one grant set against real servers,
// on SQLite and on two nodes sharing PostgreSQL, and count the answers:
// every mutation succeeds (or gets the one error AWS would give it), never
// a 500 or a 503, and quotas land exactly on their limit.

// concOutcomes counts answers by "status ErrorType" ("200" for success).
type concOutcomes map[string]int

func (o concOutcomes) String() string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " [%s]=%d", k, o[k])
	}
	return b.String()
}

// concCall is one request of a race.
type concCall struct {
	op   string
	body any
}

// concRace sends n requests at once, request i to servers[i%len] as made
// by mk(i), and counts the answers.
func concRace(t *testing.T, servers []*Server, n int, mk func(i int) concCall) concOutcomes {
	t.Helper()
	var mu sync.Mutex
	out := concOutcomes{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		c := mk(i)
		s := servers[i%len(servers)]
		b, err := json.Marshal(c.body)
		if err != nil {
			t.Fatal(err)
		}
		req := s.NewKMSRequest(t, c.op, b)
		Sign(t, req, b, Admin, "kms")
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := DoErr(req)
			k := "transport error"
			if err == nil {
				k = fmt.Sprint(r.Status)
				if r.Status != http.StatusOK {
					k += " " + r.ErrorType
				}
			}
			mu.Lock()
			out[k]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// concWant fails unless the outcomes are exactly want.
func concWant(t *testing.T, what string, got concOutcomes, want concOutcomes) {
	t.Helper()
	if got.String() != want.String() {
		t.Fatalf("%s: answers%s; want%s", what, got, want)
	}
}

// concMust calls op and fails unless it succeeds; it returns the body.
func concMust(t *testing.T, s *Server, op string, body any) []byte {
	t.Helper()
	r := s.Call(t, Admin, op, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s %s", op, r.Status, r.ErrorType, r.Message)
	}
	return r.Body
}

func concPolicy(id string) string {
	return `{"Version":"2012-10-17","Id":"` + id + `","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// concMutations races 100 mutations of one key and one alias across the
// servers: descriptions, tags, enable/disable, key policies, the alias
// moved between two keys, and creations of the existing alias. Every one
// succeeds except the creations, which get AlreadyExistsException; the
// servers then agree on a final state made of what was written.
func concMutations(t *testing.T, servers []*Server) {
	s := servers[0]
	key, other := s.CreateKey(t, Admin, nil), s.CreateKey(t, Admin, nil)
	concMust(t, s, "CreateAlias", map[string]any{"AliasName": "alias/race-one", "TargetKeyId": key})
	const n = 105
	got := concRace(t, servers, n, func(i int) concCall {
		switch i % 7 {
		case 0:
			return concCall{"UpdateKeyDescription", map[string]any{"KeyId": key, "Description": fmt.Sprint("desc-", i)}}
		case 1:
			return concCall{"TagResource", map[string]any{"KeyId": key, "Tags": []map[string]string{{"TagKey": fmt.Sprint("tag-", i), "TagValue": "v"}}}}
		case 2:
			return concCall{"DisableKey", map[string]any{"KeyId": key}}
		case 3:
			return concCall{"EnableKey", map[string]any{"KeyId": key}}
		case 4:
			return concCall{"PutKeyPolicy", map[string]any{"KeyId": key, "PolicyName": "default", "Policy": concPolicy(fmt.Sprint("policy-", i))}}
		case 5:
			return concCall{"UpdateAlias", map[string]any{"AliasName": "alias/race-one", "TargetKeyId": []string{key, other}[i/7%2]}}
		}
		return concCall{"CreateAlias", map[string]any{"AliasName": "alias/race-one", "TargetKeyId": key}}
	})
	concWant(t, "100-way mutations of one key", got, concOutcomes{"200": 90, "400 AlreadyExistsException": 15})

	// Every server converges on one state, built only of written values.
	var first string
	for i, srv := range servers {
		WaitFor(t, 5*time.Second, func() error {
			var d struct {
				KeyMetadata struct{ Description, KeyState string }
			}
			json.Unmarshal(concMust(t, srv, "DescribeKey", map[string]any{"KeyId": key}), &d)
			var tags struct{ Tags []struct{ TagKey string } }
			json.Unmarshal(concMust(t, srv, "ListResourceTags", map[string]any{"KeyId": key}), &tags)
			var pol struct{ Policy string }
			json.Unmarshal(concMust(t, srv, "GetKeyPolicy", map[string]any{"KeyId": key, "PolicyName": "default"}), &pol)
			var al struct {
				Aliases []struct{ AliasName, TargetKeyId string }
			}
			json.Unmarshal(concMust(t, srv, "ListAliases", map[string]any{}), &al)
			target := ""
			for _, a := range al.Aliases {
				if a.AliasName == "alias/race-one" {
					target = a.TargetKeyId
				}
			}
			var p struct{ Id string }
			json.Unmarshal([]byte(pol.Policy), &p)
			state := fmt.Sprintf("description %s, state %s, %d tags, policy %s, alias on %s",
				d.KeyMetadata.Description, d.KeyMetadata.KeyState, len(tags.Tags), p.Id, target)
			switch {
			case !strings.HasPrefix(d.KeyMetadata.Description, "desc-"), d.KeyMetadata.KeyState != "Enabled" && d.KeyMetadata.KeyState != "Disabled",
				len(tags.Tags) != n/7, !strings.HasPrefix(p.Id, "policy-"), target != key && target != other:
				t.Fatalf("server %d: final state %s is not made of what was written", i, state)
			}
			if i > 0 && state != first {
				return fmt.Errorf("server %d sees %q, server 0 %q", i, state, first)
			}
			first = state
			return nil
		})
	}

	// 100 creations of one new alias: one wins, the others find it.
	got = concRace(t, servers, 100, func(i int) concCall {
		return concCall{"CreateAlias", map[string]any{"AliasName": "alias/race-new", "TargetKeyId": []string{key, other}[i%2]}}
	})
	concWant(t, "100-way CreateAlias of one name", got, concOutcomes{"200": 1, "400 AlreadyExistsException": 99})
}

// concAliasAndTagLimits races 32 creations at a key 10 short of its quota
// of aliases, and 32 tag additions at a key 10 short of its quota of tags.
func concAliasAndTagLimits(t *testing.T, servers []*Server) {
	s := servers[0]
	key := s.CreateKey(t, Admin, nil)
	for i := 0; i < 40; i++ {
		concMust(t, s, "CreateAlias", map[string]any{"AliasName": fmt.Sprint("alias/limit-base-", i), "TargetKeyId": key})
	}
	got := concRace(t, servers, 32, func(i int) concCall {
		return concCall{"CreateAlias", map[string]any{"AliasName": fmt.Sprint("alias/limit-race-", i), "TargetKeyId": key}}
	})
	concWant(t, "32 CreateAlias at 40 of 50 aliases", got, concOutcomes{"200": 10, "400 LimitExceededException": 22})
	var al struct{ Aliases []struct{ AliasName string } }
	json.Unmarshal(concMust(t, s, "ListAliases", map[string]any{"KeyId": key, "Limit": 100}), &al)
	if len(al.Aliases) != 50 {
		t.Fatalf("key has %d aliases; want 50", len(al.Aliases))
	}

	tagged := s.CreateKey(t, Admin, nil)
	var tags []map[string]string
	for i := 0; i < 40; i++ {
		tags = append(tags, map[string]string{"TagKey": fmt.Sprint("base-", i), "TagValue": "v"})
	}
	concMust(t, s, "TagResource", map[string]any{"KeyId": tagged, "Tags": tags})
	got = concRace(t, servers, 32, func(i int) concCall {
		return concCall{"TagResource", map[string]any{"KeyId": tagged, "Tags": []map[string]string{{"TagKey": fmt.Sprint("race-", i), "TagValue": "v"}}}}
	})
	concWant(t, "32 TagResource at 40 of 50 tags", got, concOutcomes{"200": 10, "400 TagException": 22})
	WaitFor(t, 5*time.Second, func() error {
		for i, srv := range servers {
			var out struct{ Tags []struct{ TagKey string } }
			json.Unmarshal(concMust(t, srv, "ListResourceTags", map[string]any{"KeyId": tagged}), &out)
			if len(out.Tags) != 50 {
				return fmt.Errorf("server %d: key has %d tags; want 50", i, len(out.Tags))
			}
		}
		return nil
	})
}

// concGrantsBefore is how many grants a key holds before the grant race:
// 10 short of AWS's quota of 50,000 grants per key.
const concGrantsBefore = 49_990

// concPutGrants stores concGrantsBefore grants on key straight into st, as
// CreateGrant stores them (50,000 grants take minutes through the API).
// With withCount, the key's grant count is stored too, as this version
// keeps it; without, the server must count them, as for a store written by
// an earlier version.
func concPutGrants(t *testing.T, st store.Store, key string, withCount bool) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var ops []store.Op
	flush := func() {
		if err := st.Apply(ctx, ops...); err != nil {
			t.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := 0; i < concGrantsBefore; i++ {
		id := fmt.Sprintf("%064x", i+1)
		d, _ := json.Marshal(map[string]any{"id": id, "keyId": key, "keyAccount": account, "created": now,
			"grantee": "arn:aws:iam::" + account + ":user/carol", "operations": []string{"Decrypt"},
			"issuingAccount": "arn:aws:iam::" + account + ":root"})
		ops = append(ops, store.Op{Kind: "grant", ID: key + "/" + id, Data: d, Create: true})
		if len(ops) == 2000 {
			flush()
		}
	}
	if withCount {
		ops = append(ops, store.Op{Kind: "grantcount", ID: key, Data: fmt.Appendf(nil, `{"n":%d}`, concGrantsBefore), Create: true})
	}
	flush()
}

// concGrantLimit races 32 CreateGrant calls at a key 10 short of its quota
// of grants: exactly 10 succeed.
func concGrantLimit(t *testing.T, servers []*Server, key string) {
	grantee := "arn:aws:iam::" + account + ":user/bob"
	// A grantee must exist: CreateGrant binds it to its unique ID.
	servers[0].MustQuery(t, Admin, "iam", "Action", "CreateUser", "UserName", "bob")
	got := concRace(t, servers, 32, func(i int) concCall {
		return concCall{"CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": grantee, "Operations": []string{"Decrypt"}}}
	})
	concWant(t, "32 CreateGrant at 49,990 of 50,000 grants", got, concOutcomes{"200": 10, "400 LimitExceededException": 22})
	var out struct{ Grants []struct{ GrantId string } }
	json.Unmarshal(concMust(t, servers[0], "ListGrants", map[string]any{"KeyId": key, "GranteePrincipal": grantee, "Limit": 1000}), &out)
	if len(out.Grants) != 10 {
		t.Fatalf("%d grants for the racers stored; want 10", len(out.Grants))
	}
	for i, srv := range servers {
		r := srv.Call(t, Admin, "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": grantee, "Operations": []string{"Decrypt"}})
		if r.Status != http.StatusBadRequest || r.ErrorType != "LimitExceededException" {
			t.Fatalf("server %d: CreateGrant at the quota: %d %s %s", i, r.Status, r.ErrorType, r.Message)
		}
	}
}

func TestConcurrentMutationsSQLite(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	concMutations(t, []*Server{s})
	concAliasAndTagLimits(t, []*Server{s})

	// Store the grants while the server is stopped: it owns its database.
	key := s.CreateKey(t, Admin, nil)
	s.Stop(t)
	st, err := sqlite.Open(filepath.Join(s.DataDir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	concPutGrants(t, st, key, false)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s = Start(t, Opts{DataDir: s.DataDir, ConfigHome: s.ConfigHome, RootKeyHex: s.RootKeyHex})
	concGrantLimit(t, []*Server{s}, key)
}

func TestConcurrentMutationsPostgresTwoNodes(t *testing.T) {
	t.Parallel()
	storeURL := pgtest.FreshSchema(t, "")
	rootKey := randHex(32)
	var servers []*Server
	for _, id := range []string{"n1", "n2"} {
		servers = append(servers, Start(t, Opts{RootKeyHex: rootKey, Args: []string{"--store", storeURL, "--node-id", id}}))
	}
	concMutations(t, servers)
	concAliasAndTagLimits(t, servers)

	key := servers[0].CreateKey(t, Admin, nil)
	st, err := postgres.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	concPutGrants(t, st, key, true)
	st.Close()
	concGrantLimit(t, servers, key)
}
