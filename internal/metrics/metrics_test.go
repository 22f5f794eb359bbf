package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trentkms/trent/internal/store"
)

func TestLabelsAreBounded(t *testing.T) {
	m := New()
	a := m.API("kms", []string{"Encrypt", "Decrypt"})
	a.Request("Encrypt", "", false, time.Millisecond)
	// Operation names a client makes up are one series.
	for i := range 1000 {
		a.Request(fmt.Sprintf("Made%dUp", i), "UnknownOperationException", false, time.Microsecond)
	}
	// So are error codes past MaxCodes.
	for i := range 3 * MaxCodes {
		a.Request("Decrypt", fmt.Sprintf("Code%dException", i), i%2 == 0, time.Microsecond)
		a.AuthenticationFailure(fmt.Sprintf("Auth%dException", i))
	}
	a.Request("Decrypt", strings.Repeat("x", 200), false, 0)
	if got := testutil.ToFloat64(m.requests.WithLabelValues("kms", "Encrypt", OutcomeSuccess, "")); got != 1 {
		t.Errorf("Encrypt successes %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("kms", UnknownOperation, OutcomeClientError, "UnknownOperationException")); got != 1000 {
		t.Errorf("unknown operations %v, want 1000", got)
	}
	if n := testutil.CollectAndCount(m.requests); n > 2*MaxCodes+10 {
		t.Errorf("%d request series: not bounded", n)
	}
	if n := testutil.CollectAndCount(m.authFailures); n > MaxCodes+1 {
		t.Errorf("%d authentication failure series: not bounded", n)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("kms", "Decrypt", OutcomeClientError, "other")); got < 1 {
		t.Errorf("codes past the bound are not counted as other: %v", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 3 {
		t.Errorf("%d duration series, want 3 (Encrypt, Decrypt, unknown)", n)
	}
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestNilMeasuresNothing(t *testing.T) {
	var m *Metrics
	a := m.API("kms", []string{"Encrypt"})
	a.Request("Encrypt", "", false, time.Millisecond)
	a.AuthenticationFailure("X")
	a.Throttled(ThrottleSourceLimited)
	m.AuditBatch(1, time.Millisecond, time.Millisecond)
	st := &fakeStore{}
	if m.Store(st) != store.Store(st) {
		t.Error("a nil Metrics wraps the store")
	}
}

// fakeStore answers Get with err and implements store.Notifier.
type fakeStore struct {
	store.Store
	err    error
	notify chan struct{}
}

func (f *fakeStore) Get(context.Context, string, string) (store.Record, error) {
	return store.Record{}, f.err
}
func (f *fakeStore) Notify() <-chan struct{} { return f.notify }

type snapStore struct{ fakeStore }

func (s *snapStore) Snapshot(context.Context, func(store.Record) error) (store.SnapshotInfo, error) {
	return store.SnapshotInfo{LastSeq: 7}, nil
}

func TestStoreMeasuredKeepsCapabilities(t *testing.T) {
	m := New()
	f := &fakeStore{err: fmt.Errorf("wrapped: %w", store.ErrNotFound), notify: make(chan struct{})}
	st := m.Store(f)
	if _, err := st.Get(context.Background(), "k", "1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	f.err = fmt.Errorf("%w: down", store.ErrUnavailable)
	st.Get(context.Background(), "k", "1")
	st.Get(context.Background(), "k", "1")
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("get", "not_found")); got != 1 {
		t.Errorf("not_found %v", got)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("get", "unavailable")); got != 2 {
		t.Errorf("unavailable %v", got)
	}
	if n, ok := st.(store.Notifier); !ok || n.Notify() != f.notify {
		t.Error("the measured store lost the Notifier")
	}
	if _, ok := st.(store.Snapshotter); ok {
		t.Error("the measured store claims a Snapshotter it does not have")
	}
	sn, ok := m.Store(&snapStore{}).(store.Snapshotter)
	if !ok {
		t.Fatal("the measured store lost the Snapshotter")
	}
	if info, err := sn.Snapshot(context.Background(), nil); err != nil || info.LastSeq != 7 {
		t.Errorf("Snapshot: %v %v", info, err)
	}
}

// BenchmarkRequest is the cost a request pays for being measured.
func BenchmarkRequest(b *testing.B) {
	a := New().API("kms", []string{"Encrypt", "Decrypt", "GenerateDataKey"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Request("Encrypt", "", false, 30*time.Microsecond)
		}
	})
}
