package job

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// # Key usage tracking (GetKeyLastUsage)
//
// Every successful cryptographic call is noted in memory (RecordUsage, from
// the request pipeline, after its audit record is durable) and flushed to the
// store in the background every usageFlushInterval, one record per key and
// at most once per usagePersistInterval per key, so the hot path never
// writes to the database for it. The node that served a call answers
// GetKeyLastUsage exactly; other nodes may lag by usagePersistInterval.
// Several nodes flush the same record; the later use wins. A node that
// crashes loses at most the last flush interval of usage notes, which
// GetKeyLastUsage tolerates: it is advisory, as in AWS.

const (
	kindKeyUsage       = "keyusage"
	kindTracking       = "tracking"
	usageFlushInterval = 10 * time.Second
)

// trackedOperations are the KeyLastUsageTrackingOperation values.
var trackedOperations = map[string]bool{
	"Decrypt": true, "DeriveSharedSecret": true, "Encrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
	"GenerateDataKeyWithoutPlaintext": true, "GenerateMac": true, "ReEncrypt": true,
	"Sign": true, "Verify": true, "VerifyMac": true, "Encapsulate": true, "Decapsulate": true,
}

// usageDoc is the last successful cryptographic use of a key.
type usageDoc struct {
	Operation string    `json:"operation"`
	Time      time.Time `json:"time"`
	EventID   string    `json:"eventId,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
}

type usageTracker struct {
	mu        sync.Mutex
	dirty     map[string]usageDoc  // noted since the last flush
	last      map[string]usageDoc  // newest use seen by this node, by key ID
	persisted map[string]time.Time // when each key's use was last written
}

// RecordUsage notes a successful cryptographic operation on the keys with
// the given ARNs. Operations that AWS does not track are ignored.
func (r *Runner) RecordUsage(keyARNs []string, op, eventID, requestID string, t time.Time) {
	if !trackedOperations[op] {
		return
	}
	u := usageDoc{Operation: op, Time: t.UTC(), EventID: eventID, RequestID: requestID}
	r.usage.mu.Lock()
	if r.usage.dirty == nil {
		r.usage.dirty = make(map[string]usageDoc)
	}
	if r.usage.last == nil {
		r.usage.last = make(map[string]usageDoc)
	}
	for _, keyARN := range keyARNs {
		id := arn.Name(keyARN)
		r.usage.dirty[id] = u
		r.usage.last[id] = u
	}
	r.usage.mu.Unlock()
}

// KeyDeletionOps implements kms.KeyRecords: a key's usage record goes with
// it.
func (r *Runner) KeyDeletionOps(_ context.Context, keyID string) ([]store.Op, error) {
	return []store.Op{{Kind: kindKeyUsage, ID: keyID, Delete: true}}, nil
}

// forgetUsage drops the usage notes of a deleted key.
func (r *Runner) forgetUsage(id string) {
	r.usage.mu.Lock()
	delete(r.usage.last, id)
	delete(r.usage.dirty, id)
	delete(r.usage.persisted, id)
	r.usage.mu.Unlock()
}

// flushUsage writes the usage notes gathered since the last flush, in
// batches of usageFlushBatch records per store write. Notes are written
// unconditionally: when two nodes flush the same key, the later flush wins,
// which at worst reports a use a few seconds older than the newest.
func (r *Runner) flushUsage(ctx context.Context) {
	now := r.svc.Now()
	r.usage.mu.Lock()
	dirty := r.usage.dirty
	r.usage.dirty = nil
	if r.usage.persisted == nil {
		r.usage.persisted = make(map[string]time.Time)
	}
	// A key used continuously is written at most once per
	// usagePersistInterval: other nodes see its use that late at worst,
	// and the change feed is not flooded by a large, busy key set.
	for id := range dirty {
		if t, ok := r.usage.persisted[id]; ok && now.Sub(t) < usagePersistInterval {
			delete(dirty, id)
			continue
		}
		r.usage.persisted[id] = now
	}
	r.usage.mu.Unlock()
	ops := make([]store.Op, 0, min(len(dirty), usageFlushBatch))
	flush := func() bool {
		if len(ops) == 0 {
			return true
		}
		err := r.store.Apply(ctx, ops...)
		ops = ops[:0]
		if err != nil {
			r.log.Warn("key usage flush", "err", err)
			return false
		}
		return true
	}
	for id, u := range dirty {
		data, _ := json.Marshal(u)
		ops = append(ops, store.Op{Kind: kindKeyUsage, ID: id, Data: data})
		if len(ops) == usageFlushBatch && !flush() {
			return
		}
	}
	flush()
}

// usageFlushBatch bounds the records written by one store write, and
// usagePersistInterval is the least time between two writes of one key's
// usage.
const (
	usageFlushBatch      = 500
	usagePersistInterval = 10 * time.Minute
)

func (r *Runner) runUsageFlusher() {
	defer r.wg.Done()
	t := time.NewTicker(usageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.flushUsage(ctx)
			cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			r.flushUsage(ctx)
			cancel()
		}
	}
}

// trackingStart returns when this deployment started tracking key usage,
// recording it on first call.
func (r *Runner) trackingStart(ctx context.Context) (time.Time, error) {
	rec, err := r.store.Get(ctx, kindTracking, "start")
	if err == nil {
		var t time.Time
		if err := t.UnmarshalText(rec.Data); err == nil {
			return t, nil
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	now := r.svc.Now().UTC().Truncate(time.Second)
	data, _ := now.MarshalText()
	if err := r.store.Apply(ctx, store.Op{Kind: kindTracking, ID: "start", Data: data, Create: true}); err != nil && !errors.Is(err, store.ErrExists) {
		return time.Time{}, err
	}
	return r.trackingStart(ctx)
}

// GetKeyLastUsage implements the GetKeyLastUsage operation.
func (r *Runner) GetKeyLastUsage(ctx context.Context, in *wire.KeyIDInput) (*wire.GetKeyLastUsageOutput, error) {
	k, err := r.svc.AuthorizedKey(ctx, in.KeyID, kms.RefAliasOK, "kms:GetKeyLastUsage", kms.RequestAliasCond(in.KeyID), in.GrantTokens)
	if err != nil {
		return nil, err
	}
	d := k.Doc()
	start, err := r.trackingStart(ctx)
	if err != nil {
		return nil, r.svc.StoreErr(ctx, err)
	}
	if d.Created.After(start) {
		start = d.Created
	}
	out := &wire.GetKeyLastUsageOutput{KeyID: k.ARN(), TrackingStartDate: wire.TS(start), KeyCreationDate: wire.TS(d.Created)}
	r.usage.mu.Lock()
	u, found := r.usage.last[d.ID]
	r.usage.mu.Unlock()
	rec, err := r.store.Get(ctx, kindKeyUsage, d.ID)
	switch {
	case err == nil:
		var stored usageDoc
		if json.Unmarshal(rec.Data, &stored) == nil && (!found || stored.Time.After(u.Time)) {
			u, found = stored, true
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, r.svc.StoreErr(ctx, err)
	}
	if found {
		out.KeyLastUsage = &wire.KeyLastUsageData{Operation: u.Operation, Timestamp: wire.TS(u.Time), CloudTrailEventID: u.EventID, KmsRequestID: u.RequestID}
	}
	return out, nil
}
