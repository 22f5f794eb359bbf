package replica

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// stats are the counters of replication per peer Region, for metrics.
type stats struct {
	mu sync.Mutex
	m  map[string]*RegionStats
}

// RegionStats are the counters of one peer Region.
type RegionStats struct {
	Delivered, Failed, Received, Refused uint64
	// LastLag is the time the last delivered change waited.
	LastLag time.Duration
}

func (st *stats) get(r string) *RegionStats {
	if st.m == nil {
		st.m = map[string]*RegionStats{}
	}
	if st.m[r] == nil {
		st.m[r] = &RegionStats{}
	}
	return st.m[r]
}

func (st *stats) delivered(r string, lag time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	x := st.get(r)
	x.Delivered++
	x.LastLag = lag
}

func (st *stats) failed(r string)   { st.mu.Lock(); st.get(r).Failed++; st.mu.Unlock() }
func (st *stats) received(r string) { st.mu.Lock(); st.get(r).Received++; st.mu.Unlock() }
func (st *stats) refused(r string)  { st.mu.Lock(); st.get(r).Refused++; st.mu.Unlock() }

// Counters returns a copy of the counters per peer Region.
func (s *Service) Counters() map[string]RegionStats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := map[string]RegionStats{}
	for r, x := range s.stats.m {
		out[r] = *x
	}
	return out
}

// Pending is one change not yet delivered to a Region.
type Pending struct {
	Region    string    `json:"region"`
	KeyID     string    `json:"keyId"`
	Since     time.Time `json:"since"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
}

// Outbox returns the changes not yet delivered, by Region and key.
func Outbox(ctx context.Context, st store.Store) ([]Pending, error) {
	var out []Pending
	err := store.Each(ctx, st, KindOutbox, func(r store.Record) error {
		var d outboxDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return nil
		}
		region, key, _ := strings.Cut(r.ID, "/")
		out = append(out, Pending{Region: region, KeyID: key, Since: d.Since, Attempts: d.Attempts, LastError: d.LastError})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Region < out[j].Region || out[i].Region == out[j].Region && out[i].KeyID < out[j].KeyID
	})
	return out, err
}

// Peers returns the configured peer Regions, sorted.
func (s *Service) Peers() []string {
	var rs []string
	s.pmu.Lock()
	for r := range s.peers {
		rs = append(rs, r)
	}
	s.pmu.Unlock()
	sort.Strings(rs)
	return rs
}
