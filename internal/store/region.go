package store

import (
	"context"
	"strings"
	"time"
)

// # Regions on one store
//
// Several Regions may share one store (nodes of different --region on one
// PostgreSQL). The records of a Region's KMS domain (keys, aliases,
// grants, jobs: the kinds that regional reports true for) are then apart:
// the first Region to use the store (its home) keeps them under their
// kinds, and every other Region's under "r:<region>:<kind>", which
// InRegion maps. Records of the other kinds (principals, the root key's)
// are shared by all Regions, as IAM is global.

// RegionKindPrefix returns the prefix of the kinds of region's regional
// records on a shared store whose home is another Region.
func RegionKindPrefix(region string) string { return "r:" + region + ":" }

// InRegion returns st as the nodes of region see it on a store whose home
// Region is another: the kinds that regional reports true for are mapped
// to region's own, the change feed shows region's changes under their
// kinds and the other Regions' under kinds no one reads, and leases are
// region's own. Optional capabilities: Notifier is kept.
func InRegion(st Store, region string, regional func(kind string) bool) Store {
	r := &regionStore{Store: st, prefix: RegionKindPrefix(region), regional: regional}
	if n, ok := st.(Notifier); ok {
		return &regionNotifier{regionStore: r, n: n}
	}
	return r
}

type regionStore struct {
	Store
	prefix   string
	regional func(string) bool
}

type regionNotifier struct {
	*regionStore
	n Notifier
}

func (r *regionNotifier) Notify() <-chan struct{} { return r.n.Notify() }

func (r *regionStore) kind(k string) string {
	if r.regional(k) {
		return r.prefix + k
	}
	return k
}

func (r *regionStore) Get(ctx context.Context, kind, id string) (Record, error) {
	rec, err := r.Store.Get(ctx, r.kind(kind), id)
	rec.Kind = kind
	return rec, err
}

func (r *regionStore) List(ctx context.Context, kind, prefix, after string, limit int) ([]Record, error) {
	recs, err := r.Store.List(ctx, r.kind(kind), prefix, after, limit)
	for i := range recs {
		recs[i].Kind = kind
	}
	return recs, err
}

func (r *regionStore) Apply(ctx context.Context, ops ...Op) error {
	mapped := make([]Op, len(ops))
	for i, op := range ops {
		op.Kind = r.kind(op.Kind)
		mapped[i] = op
	}
	return r.Store.Apply(ctx, mapped...)
}

// otherRegion is the kind the feed shows for another Region's records.
const otherRegion = "r:other:"

func (r *regionStore) Changes(ctx context.Context, since int64, limit int) ([]Change, error) {
	cs, err := r.Store.Changes(ctx, since, limit)
	for i := range cs {
		k := cs[i].Kind
		switch {
		case strings.HasPrefix(k, r.prefix):
			cs[i].Kind = k[len(r.prefix):]
		case strings.HasPrefix(k, "r:"), r.regional(k):
			cs[i].Kind = otherRegion + k
		}
	}
	return cs, err
}

func (r *regionStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	return r.Store.TryLease(ctx, r.prefix+name, holder, ttl)
}

func (r *regionStore) ReleaseLease(ctx context.Context, name, holder string) error {
	return r.Store.ReleaseLease(ctx, r.prefix+name, holder)
}
