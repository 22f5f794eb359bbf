package grant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestGrantSetFindMatchesScan: the index by grantee and operation finds
// the same grant as a scan of all grants in ID order would, for random
// grants and callers (users, roles and their sessions, the root).
func TestGrantSetFindMatchesScan(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	principals := []string{
		"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:user/alice",
		"arn:aws:iam::111122223333:role/app", "arn:aws:sts::111122223333:assumed-role/app/s1", "arn:aws:iam::444455556666:root",
	}
	ops := []string{"Encrypt", "Decrypt", "DescribeKey", "CreateGrant", "RetireGrant", "GenerateDataKey"}
	for round := 0; round < 50; round++ {
		set := newGrantSet(0)
		var all []*grant
		for i := 0; i < 40; i++ {
			d := grantDoc{ID: fmt.Sprintf("%064x", rng.IntN(1<<20)), Grantee: principals[rng.IntN(len(principals))]}
			for _, op := range ops {
				if rng.IntN(3) == 0 {
					d.Operations = append(d.Operations, op)
				}
			}
			if rng.IntN(4) == 0 {
				d.Subset = map[string]string{"app": []string{"x", "y"}[rng.IntN(2)]}
			}
			if set.has(d.ID) {
				continue
			}
			g := newGrant(d)
			set.add(g)
			all = append(all, g)
		}
		// Remove a few, and try to bring one back.
		for i := 0; i < 5 && len(all) > 0; i++ {
			j := rng.IntN(len(all))
			set.remove(all[j].doc.ID)
			set.add(all[j])
			all = append(all[:j], all[j+1:]...)
		}
		for _, arn := range principals {
			for _, roleARN := range []string{"", "arn:aws:iam::111122223333:role/app"} {
				p := policy.Principal{ARN: arn, RoleARN: roleARN}
				for _, op := range ops {
					for _, ec := range []map[string]string{nil, {"app": "x"}} {
						allows := func(g *grant) bool { return g.pg.Allows(p, op, ec) }
						var want *grant
						for _, g := range all {
							if allows(g) && (want == nil || g.doc.ID < want.doc.ID) {
								want = g
							}
						}
						if got := set.find(grantLookupKeys(p.ARN, p.RoleARN), op, allows); got != want {
							t.Fatalf("round %d, %s (role %q) %s %v: index found %v, scan %v", round, arn, roleARN, op, ec, got, want)
						}
					}
				}
			}
		}
	}
}

// pausingStore blocks the first List of grants until release is closed,
// after telling listing.
type pausingStore struct {
	store.Store
	once             sync.Once
	listing, release chan struct{}
}

func (p *pausingStore) List(ctx context.Context, kind, prefix, after string, limit int) ([]store.Record, error) {
	recs, err := p.Store.List(ctx, kind, prefix, after, limit)
	if kind == kindGrant {
		p.once.Do(func() {
			close(p.listing)
			<-p.release
		})
	}
	return recs, err
}

// TestGrantLoadRacingChanges: grants created and deleted while a node
// lists a key's grants are in the set it caches, or gone from it, as the
// store says, although its listing was taken before they changed.
func TestGrantLoadRacingChanges(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ps := &pausingStore{Store: st, listing: make(chan struct{}), release: make(chan struct{})}
	root, _ := rootkey.NewStatic(bytes.Repeat([]byte{7}, 32))
	svc, err := kms.New(kms.Config{Store: ps, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := job.New(svc, job.Config{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := New(svc, Config{})
	ctx := context.Background()
	keyID := "1234abcd-12ab-34cd-56ef-1234567890ab"
	grantee := func(i int) string { return fmt.Sprint("arn:aws:iam::111122223333:user/u", i) }
	if err := s.PutGrantsForTest(ctx, keyID, "111122223333", 3, grantee, "Encrypt"); err != nil {
		t.Fatal(err)
	}
	loaded := make(chan *grantSet)
	go func() {
		set, err := s.cache.get(ctx, keyID)
		if err != nil {
			t.Error(err)
		}
		loaded <- set
	}()
	<-ps.listing
	// While the listing (of grants 1-3) is held: grant 2 goes, grant 4
	// comes, and the feed reports both.
	if err := st.Apply(ctx, store.Op{Kind: kindGrant, ID: grantRecordID(keyID, fmt.Sprintf("%064x", 2)), Delete: true}); err != nil {
		t.Fatal(err)
	}
	d := grantDoc{ID: fmt.Sprintf("%064x", 4), KeyID: keyID, Grantee: grantee(3), Operations: []string{"Encrypt"}}
	data, _ := json.Marshal(&d)
	if err := st.Apply(ctx, store.Op{Kind: kindGrant, ID: grantRecordID(keyID, d.ID), Data: data, Create: true}); err != nil {
		t.Fatal(err)
	}
	jobs.SyncChanges(ctx)
	close(ps.release)
	set := <-loaded
	for i, want := range []bool{true, false, true, true} {
		if got := set.has(fmt.Sprintf("%064x", i+1)); got != want {
			t.Errorf("grant %d cached: %v; want %v", i+1, got, want)
		}
	}
	// The set was cached, not thrown away.
	if again, _ := s.cache.get(ctx, keyID); again != set {
		t.Error("the loaded set was not cached")
	}
}
