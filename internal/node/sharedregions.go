package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/replica"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// # Several Regions on one store
//
// Nodes of different Regions may share one store (PostgreSQL). The first
// Region to start on it is its home; every other Region's KMS records live
// under kinds of its own (store.InRegion), so that each Region's keys,
// aliases, grants and jobs are its own, while principals stay shared (IAM
// is global). Each Region that starts registers itself; a multi-Region key
// replicates to another Region of the same store without a peer
// declaration: the node builds that Region's services in-process over the
// same store and root key, and delivers through them (replica.Router), with
// the same messages, checks and audit records as between deployments.

// Global records of the Regions on a store.
const (
	kindStoreHome   = "store-home"   // ID "region": the home Region
	kindStoreRegion = "store-region" // ID: a Region that has started on the store
)

// regionalKinds are the record kinds of a Region's KMS domain.
var regionalKinds = map[string]bool{
	"key": true, "alias": true, "keyaliases": true, "kmsmeta": true, "acctkey": true, kms.KindJob: true,
	"keyusage": true, "tracking": true, "grant": true, "grantret": true, "grantcount": true,
	"importparams": true, "keystore": true, "keycount": true, "kscount": true,
	replica.KindOutbox: true, "mrk-create": true, replica.KindIdentity: true,
}

func regionalKind(k string) bool { return regionalKinds[k] }

// regionStore registers region on st and returns st as region's nodes see
// it, with the store's home Region.
func regionStore(ctx context.Context, st store.Store, region string) (store.Store, string, error) {
	err := st.Apply(ctx, store.Op{Kind: kindStoreHome, ID: "region", Data: []byte(region), Create: true})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, "", err
	}
	rec, err := st.Get(ctx, kindStoreHome, "region")
	if err != nil {
		return nil, "", err
	}
	home := string(rec.Data)
	if region != home {
		if _, err := st.Get(ctx, kindStoreRegion, region); errors.Is(err, store.ErrNotFound) {
			if err := unmovedKeys(ctx, st, region, home); err != nil {
				return nil, "", err
			}
		} else if err != nil {
			return nil, "", err
		}
	}
	if err := st.Apply(ctx, store.Op{Kind: kindStoreRegion, ID: region, Data: []byte("{}")}); err != nil {
		return nil, "", err
	}
	return storeFor(st, region, home), home, nil
}

func storeFor(st store.Store, region, home string) store.Store {
	if region == home {
		return st
	}
	return store.InRegion(st, region, regionalKind)
}

// sameStore reaches the other Regions of this node's store in-process.
type sameStore struct {
	n      *Node
	home   string
	now    func() time.Time
	log    *slog.Logger
	router *replica.Router
	own    *replica.Service

	mu sync.Mutex
}

// discover implements replica.Config.Discover: a Region registered on the
// store gets its services built here, over its part of the store.
func (ss *sameStore) discover(ctx context.Context, region string) (replica.Peer, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, err := ss.n.Store.Get(ctx, kindStoreRegion, region); err != nil {
		return replica.Peer{}, false
	}
	st := storeFor(ss.n.Store, region, ss.home)
	svc, err := kms.New(kms.Config{Store: st, Root: ss.n.Root, Region: region, Logger: ss.log, Now: ss.now})
	if err != nil {
		ss.log.Error("multi-Region replication: the services of a Region on this store", "region", region, "err", err)
		return replica.Peer{}, false
	}
	svc.SetAuthorizer(authz.New(authz.Config{Identities: ss.n.Directory, Now: ss.now, Logger: ss.log}))
	id, err := replica.LoadIdentity(ctx, st, ss.n.Root, region)
	if err != nil {
		ss.log.Error("multi-Region replication: the identity of a Region on this store", "region", region, "err", err)
		return replica.Peer{}, false
	}
	ownPeer, err := replica.ParsePeer(ss.own.Public(), "store:"+ss.own.Region())
	if err != nil {
		return replica.Peer{}, false
	}
	r := replica.New(replica.Config{KMS: svc, Identity: id, Peers: []replica.Peer{ownPeer}, Logger: ss.log,
		Events: func(ctx context.Context, ev replica.Event) error { return ss.n.regionEvent(ctx, region, ev) }})
	ss.router.AddLocal(r)
	p, err := replica.ParsePeer(id.Public(), "store:"+region)
	if err != nil {
		return replica.Peer{}, false
	}
	return p, true
}

// regionalStoreOf opens cfg's store and returns it as cfg's Region sees it,
// for the offline commands; close closes it.
func regionalStoreOf(cfg *config.File) (st store.Store, close func(), err error) {
	raw, err := OpenStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, _, err = regionStore(context.Background(), raw, cfg.Region)
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	return st, func() { raw.Close() }, nil
}

// regionResealers are the resealers of the KMS records of every Region on
// st (the home Region's and the others', under their own kinds), and of
// their replication identities, for a root-key rotation. The home
// Region's key materials, key store secrets and import parameters are
// resealed by the caller's services over st itself.
func regionResealers(ctx context.Context, st store.Store, root rootkey.Provider, region string) ([]reseal.Resealer, error) {
	home := region
	if rec, err := st.Get(ctx, kindStoreHome, "region"); err == nil {
		home = string(rec.Data)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var locks store.Locks
	out := []reseal.Resealer{replica.IdentityResealer{Store: st, Root: root, Locks: &locks}}
	err := store.Each(ctx, st, kindStoreRegion, func(r store.Record) error {
		if r.ID == home {
			return nil
		}
		rst := storeFor(st, r.ID, home)
		services, err := newServices(kms.Config{Store: rst, Root: root, Region: r.ID}, job.Config{}, keystore.Config{})
		if err != nil {
			return err
		}
		out = append(out, resealers(&services)...)
		out = append(out, replica.IdentityResealer{Store: rst, Root: root, Locks: services.KMS.Locks()})
		return nil
	})
	return out, err
}

// unmovedKeys refuses the first start of region on a store whose home is
// another Region if the home's records hold keys of region: a store that
// several Regions shared before Regions were kept apart. Their nodes would
// no longer see those keys; the operator moves them first
// (docs/multi-region.md, "Stores shared before").
func unmovedKeys(ctx context.Context, st store.Store, region, home string) error {
	n := 0
	err := store.Each(ctx, st, "key", func(r store.Record) error {
		var d struct {
			Region string `json:"region"`
		}
		if json.Unmarshal(r.Data, &d) == nil && d.Region == region {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("this store holds %d keys of Region %s among the records of its home Region %s: a store shared by several Regions before this version; Region %s cannot start on it until they are moved (docs/multi-region.md, \"Stores shared before\")", n, region, home, region)
	}
	return nil
}
