package node

import (
	"context"
	"crypto/fips140"
	"errors"
	"fmt"
	"log/slog"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/peer"
	"github.com/trentkms/trent/internal/replica"
	"github.com/trentkms/trent/internal/server"
	"github.com/trentkms/trent/internal/store"
)

// startReplication builds the multi-Region key concern of a node: its
// replication identity (created at the first start, sealed under the root
// key), its peers from the configuration, and the client that delivers to
// them.
func (n *Node) startReplication(cfg *config.File, svc *kms.Service, st store.Store, home string, log *slog.Logger) (*replica.Service, error) {
	if fips140.Enabled() {
		// The identity's key wrapping is age's ML-KEM-768 + X25519
		// hybrid, and FIPS 140-3 does not approve X25519 (the module
		// refuses it): no identity, no replication (docs/fips.md).
		if len(cfg.Peers) > 0 {
			return nil, errors.New("config: peers: multi-Region replication between deployments is not available in FIPS mode (its key wrapping uses X25519, which FIPS 140-3 does not approve); remove the peers or run without GODEBUG=fips140=only")
		}
		off := awserr.New(awserr.UnsupportedOperation, "Multi-Region key replication is not available in FIPS mode: its key wrapping uses X25519, which FIPS 140-3 does not approve.")
		log.Info("multi-Region replication: off in FIPS mode")
		return replica.New(replica.Config{KMS: svc, Logger: log, Events: n.replicationEvent, Unavailable: off}), nil
	}
	id, err := replica.LoadIdentity(context.Background(), st, n.Root, cfg.Region)
	if err != nil {
		return nil, err
	}
	peers, err := Peers(cfg)
	if err != nil {
		return nil, err
	}
	client, err := peer.NewClient(cfg.Region, cfg.PeersCAFile)
	if err != nil {
		return nil, err
	}
	client.Logger = log
	ss := &sameStore{n: n, home: home, now: svc.Now, log: log, router: &replica.Router{From: cfg.Region, Remote: client}}
	r := replica.New(replica.Config{KMS: svc, Identity: id, Peers: peers, Transport: ss.router, Logger: log,
		Events: n.replicationEvent, Discover: ss.discover})
	ss.own = r
	pub := id.Public()
	log.Info("multi-Region replication", "peers", len(peers), "identity", pub.Fingerprint())
	return r, nil
}

// Peers returns the peers that cfg declares.
func Peers(cfg *config.File) ([]replica.Peer, error) {
	var out []replica.Peer
	seen := map[string]bool{}
	for _, p := range cfg.Peers {
		if p.Region == cfg.Region || seen[p.Region] || p.Region == "" || p.Endpoint == "" {
			return nil, fmt.Errorf("config: peers: each peer needs a Region of its own, other than this one's, and an endpoint (%q)", p.Region)
		}
		seen[p.Region] = true
		rp, err := replica.ParsePeer(replica.Public{Region: p.Region, KEM: p.KEMPublicKey, Sign: p.SigningPublicKey}, p.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		out = append(out, rp)
	}
	return out, nil
}

// replicationProtocol is the handler of peers' replication messages.
func replicationProtocol(cfg *config.File, r *replica.Service, failed *authfail.Limiter, log *slog.Logger) server.Protocol {
	return server.Protocol{TargetPrefix: peer.TargetPrefix + ".", MaxBody: replica.MaxMessage,
		Handler: &peer.Handler{Replicas: r, FailedAuth: failed, Region: cfg.Region, Logger: log}}
}

// replicationEvent records what replication did in this Region's trail,
// as CloudTrail records KMS's own multi-Region actions.
func (n *Node) replicationEvent(ctx context.Context, ev replica.Event) error {
	return n.regionEvent(ctx, n.Config.Region, ev)
}

// regionEvent records ev of region (this node's, or another Region on its
// store whose services it runs in-process).
func (n *Node) regionEvent(ctx context.Context, region string, ev replica.Event) error {
	if n.Audit == nil {
		return nil
	}
	now := n.Service.Now().UTC()
	arn := n.Service.ARNIn(region, ev.Account, ev.KeyID)
	return n.Audit.Append(ctx, &audit.Event{
		EventVersion: "1.11", EventTime: now.Format("2006-01-02T15:04:05Z"),
		UserIdentity: &audit.UserIdentity{AccountID: ev.Account, InvokedBy: "kms.amazonaws.com"},
		EventSource:  "kms.amazonaws.com", EventName: ev.Name, AWSRegion: region,
		SourceIPAddress: "kms.amazonaws.com", UserAgent: "kms.amazonaws.com",
		EventID: audit.NewEventID(), ReadOnly: false,
		Resources: []audit.Resource{{AccountID: ev.Account, Type: "AWS::KMS::Key", ARN: arn}},
		EventType: "AwsServiceEvent", ManagementEvent: true, RecipientAccountID: ev.Account,
		ServiceEventDetails: ev.Details, EventCategory: "Management",
	})
}

// ReplicationIdentity returns the public replication identity of the
// deployment cfg names (creating it if the store has none yet), for
// `trent admin replication-identity`.
func ReplicationIdentity(cfg *config.File, env config.Env) (replica.Public, error) {
	if err := cfg.Validate(); err != nil {
		return replica.Public{}, err
	}
	st, closeStore, err := regionalStoreOf(cfg)
	if err != nil {
		return replica.Public{}, err
	}
	defer closeStore()
	root, _, err := openRoot(context.Background(), cfg, st, rootOptions{hex: env.RootKey, hsm: env.HSM})
	if err != nil {
		return replica.Public{}, err
	}
	defer root.Close()
	id, err := replica.LoadIdentity(context.Background(), st, root, cfg.Region)
	if err != nil {
		return replica.Public{}, err
	}
	return id.Public(), nil
}

// ReplicationOutbox returns the changes not yet delivered to peers, for
// `trent admin replication-status`.
func ReplicationOutbox(cfg *config.File) ([]replica.Pending, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, closeStore, err := regionalStoreOf(cfg)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	return replica.Outbox(context.Background(), st)
}
