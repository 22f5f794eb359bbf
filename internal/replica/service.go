package replica

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// Record kinds and the job action of this package.
const (
	// KindOutbox holds one record per (Region, key) whose state must be
	// sent: ID "<region>/<keyID>".
	KindOutbox = "mrk-outbox"
	// kindCreate holds ReplicateKey's independent properties of a replica
	// until it confirms it exists: ID "<region>/<keyID>".
	kindCreate = "mrk-create"
	jobSync    = "mrk-sync"
)

// Window is how far a message's time may be from the receiver's clock.
const Window = 5 * time.Minute

// Peer is another deployment, as this one's configuration declares it.
type Peer struct {
	Region   string
	Endpoint string
	KEM      *age.HybridRecipient
	Sign     ed25519.PublicKey
}

// ParsePeer builds a Peer from its public identity and endpoint.
func ParsePeer(p Public, endpoint string) (Peer, error) {
	kem, err := age.ParseHybridRecipient(p.KEM)
	if err != nil {
		return Peer{}, fmt.Errorf("replica: peer %s: kem_public_key is not an age1pq1 recipient", p.Region)
	}
	sign, err := ParseSigningKey(p.Sign)
	if err != nil {
		return Peer{}, fmt.Errorf("replica: peer %s: %v", p.Region, err)
	}
	return Peer{Region: p.Region, Endpoint: endpoint, KEM: kem, Sign: sign}, nil
}

// Transport delivers a signed message to a peer and returns its signed
// answer. Package peer implements it over HTTPS.
type Transport interface {
	Send(ctx context.Context, p Peer, body, sig []byte) (answer, answerSig []byte, err error)
}

// Event is a multi-Region action for this Region's audit trail.
type Event struct {
	Name    string // ReplicateKey, UpdatePrimaryRegion, SynchronizeMultiRegionKey, DeleteKey
	Account string
	KeyID   string
	Details map[string]any
}

// Config configures a Service.
type Config struct {
	KMS       *kms.Service
	Identity  *Identity
	Peers     []Peer
	Transport Transport
	// Events records what replication did in the audit trail; nil: not
	// recorded.
	Events func(ctx context.Context, ev Event) error
	Logger *slog.Logger
	// MaxBackoff bounds the wait between two deliveries to a peer that
	// fails (default 1 minute).
	MaxBackoff time.Duration
	// Unavailable, if set, is why this node replicates nothing (FIPS
	// mode: the identity's key wrapping uses X25519): Identity is then
	// nil, ReplicateKey and UpdatePrimaryRegion answer it, deliveries
	// wait, and no peer message is taken.
	Unavailable error
	// Discover, if set, is asked for a Region that no configured peer
	// serves: a Region on this deployment's own store (store.InRegion),
	// which node reaches in-process. It returns the peer and true, or
	// false.
	Discover func(ctx context.Context, region string) (Peer, bool)
}

// Service is the multi-Region key concern: ReplicateKey and
// UpdatePrimaryRegion, the outbox of states to send, and what a peer
// sends. It implements kms.Replication.
type Service struct {
	svc    *kms.Service
	id     *Identity
	region string
	pmu    sync.Mutex
	peers  map[string]Peer
	disc   func(ctx context.Context, region string) (Peer, bool)
	tr     Transport
	events func(ctx context.Context, ev Event) error
	log    *slog.Logger
	maxBO  time.Duration
	off    error // Config.Unavailable

	mu     sync.Mutex
	nonces map[string]time.Time // seen within Window

	stats stats
}

// New builds the Service and registers it with svc (SetReplication and
// its job action).
func New(cfg Config) *Service {
	s := &Service{svc: cfg.KMS, id: cfg.Identity, region: cfg.KMS.Region(), peers: map[string]Peer{},
		tr: cfg.Transport, events: cfg.Events, log: cfg.Logger, maxBO: cfg.MaxBackoff, nonces: map[string]time.Time{},
		disc: cfg.Discover, off: cfg.Unavailable}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBO <= 0 {
		s.maxBO = time.Minute
	}
	for _, p := range cfg.Peers {
		s.peers[p.Region] = p
	}
	cfg.KMS.SetReplication(s)
	cfg.KMS.HandleJobs(jobSync, s.runSync)
	return s
}

// Region returns the Region of this deployment.
func (s *Service) Region() string { return s.region }

// peer returns the peer serving region: a configured one, else one that
// Discover finds (kept from then on).
func (s *Service) peer(ctx context.Context, region string) (Peer, bool) {
	s.pmu.Lock()
	p, ok := s.peers[region]
	s.pmu.Unlock()
	if ok || s.disc == nil || region == s.region {
		return p, ok
	}
	if p, ok = s.disc(ctx, region); ok {
		s.pmu.Lock()
		s.peers[region] = p
		s.pmu.Unlock()
	}
	return p, ok
}

// AddPeer makes p a peer (a Region on the same store, reached
// in-process).
func (s *Service) AddPeer(p Peer) {
	s.pmu.Lock()
	s.peers[p.Region] = p
	s.pmu.Unlock()
}

// outboxID names the outbox record of key keyID for region.
func outboxID(region, keyID string) string { return region + "/" + keyID }

type outboxDoc struct {
	Account   string    `json:"account"`
	Since     time.Time `json:"since"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	// Epoch is, for a replica being destroyed, its epoch (Message.Epoch).
	Epoch int64 `json:"epoch,omitempty"`
}

// Ops implements kms.Replication: a primary sends its state to every
// replica; a primary that handed over (UpdatePrimaryRegion) sends it to
// every other member; a replica being destroyed tells its primary. The
// Regions sent to are marked pending in d (ReplicaPending) until they
// answer.
func (s *Service) Ops(old, d *kms.KeyDoc, deleted bool) []store.Op {
	var to []string
	switch {
	case deleted:
		if kms.IsReplica(d) {
			to = []string{kms.PrimaryOf(d)}
		}
	case kms.PrimaryOf(d) == s.region:
		to = d.ReplicaRegions
	case old != nil && kms.PrimaryOf(old) == s.region:
		to = append([]string{kms.PrimaryOf(d)}, d.ReplicaRegions...)
	}
	now := s.svc.Now().UTC()
	var ops []store.Op
	for _, r := range to {
		if r == s.region {
			continue
		}
		od := outboxDoc{Account: d.Account, Since: now}
		if deleted {
			od.Epoch = d.MREpoch
		}
		data := mustJSON(od)
		ops = append(ops, store.Op{Kind: KindOutbox, ID: outboxID(r, d.ID), Data: data},
			kms.Job{Action: jobSync, KeyID: outboxID(r, d.ID), Due: now}.Op())
		if !deleted && kms.PrimaryOf(d) == s.region && !slices.Contains(d.ReplicaPending, r) {
			d.ReplicaPending = append(d.ReplicaPending, r)
			sort.Strings(d.ReplicaPending)
		}
	}
	return ops
}

const policyMsgInvalidPrincipals = policy.MsgInvalidPrincipals

var regionPattern = regexp.MustCompile(`^([a-z]+-){2,3}\d+$`)

// ReplicateKey implements the ReplicateKey operation, called in the
// primary key's Region. The replica is made asynchronously: the answer
// shows it Creating, as AWS's does, and the peer of ReplicaRegion
// creates it when the outbox delivers the key's state.
func (s *Service) ReplicateKey(ctx context.Context, in *wire.ReplicateKeyInput) (*wire.ReplicateKeyOutput, error) {
	if s == nil {
		return nil, errNoReplication()
	}
	if s.off != nil {
		return nil, s.off
	}
	var v kms.Validator
	if v.Required(in.KeyID != nil, "keyId") {
		v.StrLen(in.KeyID, "keyId", 1, 2048)
	}
	if v.Required(in.ReplicaRegion != nil, "replicaRegion") {
		v.Pattern(in.ReplicaRegion, "replicaRegion", 1, 32, regionPattern.MatchString, `^([a-z]+-){2,3}\d+$`)
	}
	v.StrLen(in.Policy, "policy", 1, 131072)
	v.StrLen(in.Description, "description", 0, 8192)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := kms.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	bypass := in.BypassPolicyLockoutSafetyCheck != nil && *in.BypassPolicyLockoutSafetyCheck
	conds := map[string][]string{"kms:replicaregion": {*in.ReplicaRegion}}
	kms.TagConditions(conds, in.Tags)
	lk, err := s.svc.OwnedKey(ctx, in.KeyID, "keyId", "kms:ReplicateKey", conds)
	if err != nil {
		return nil, err
	}
	region := *in.ReplicaRegion
	if err := s.checkReplicable(lk.Doc(), lk.ARN()); err != nil {
		return nil, err
	}
	if region == s.region {
		return nil, awserr.Newf(awserr.Validation, "Replica region %s must be different from the primary key's region.", region)
	}
	if _, ok := s.peer(ctx, region); !ok {
		return nil, awserr.Newf(awserr.UnsupportedOperation, "Region %s is not served: this deployment has no peer in it.", region)
	}
	policy := kms.DefaultKeyPolicy(s.svc.Partition(), lk.Doc().Account)
	if in.Policy != nil {
		// The policy is checked here, with the caller, as AWS checks it
		// (MalformedPolicyDocumentException, the lockout safety check
		// unless bypassed): the replica's Region has no caller to check it
		// with, and replaces a policy it cannot take by the default one,
		// which must never be how a malformed policy ends. Only principals
		// this deployment does not know are left to the replica's Region,
		// which may have them (docs/multi-region.md).
		arn := s.svc.ARNIn(region, lk.Doc().Account, lk.Doc().ID)
		if _, err := s.svc.CheckPolicy(ctx, *in.Policy, arn, bypass); err != nil {
			if e := awserr.As(err); e == nil || e.Code != awserr.MalformedPolicyDocument || e.Message != policyMsgInvalidPrincipals {
				return nil, err
			}
		}
		policy = *in.Policy
	}
	create := CreateParams{Policy: policy, Bypass: bypass, Tags: in.Tags}
	if in.Description != nil {
		create.Description = *in.Description
	}
	var replica kms.KeyDoc
	_, err = s.svc.UpdateKey(ctx, lk.Doc().ID, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
		if err := s.checkReplicable(d, lk.ARN()); err != nil {
			return nil, err
		}
		if slices.Contains(d.ReplicaRegions, region) {
			return nil, awserr.Newf(awserr.AlreadyExists, "Replica key in region %s already exists for %s.", region, lk.ARN())
		}
		if d.PrimaryRegion == "" {
			d.PrimaryRegion = s.region
		}
		d.ReplicaRegions = append(slices.Clone(d.ReplicaRegions), region)
		sort.Strings(d.ReplicaRegions)
		d.MREpoch++
		// Every state the new replica has is of this epoch or later; any
		// earlier replica in region had only older ones.
		d.ReplicaSince = maps.Clone(d.ReplicaSince)
		if d.ReplicaSince == nil {
			d.ReplicaSince = map[string]int64{}
		}
		d.ReplicaSince[region] = d.MREpoch
		replica = *d
		return []store.Op{{Kind: kindCreate, ID: outboxID(region, d.ID), Data: mustJSON(create)}}, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.svc.NotFoundKey(lk.Doc().Account, lk.Doc().ID)
		}
		return nil, s.svc.StoreErr(ctx, err)
	}
	replica.Region, replica.State, replica.Description = region, kms.StateCreating, create.Description
	replica.Created = s.svc.Now().UTC()
	replica.ReplicaPending = nil
	out := &wire.ReplicateKeyOutput{ReplicaKeyMetadata: s.svc.MetadataIn(&replica), ReplicaPolicy: policy, ReplicaTags: in.Tags}
	if out.ReplicaTags == nil {
		out.ReplicaTags = []wire.Tag{}
	}
	return out, nil
}

// checkPrimary is the check of ReplicateKey and UpdatePrimaryRegion: a
// multi-Region primary key whose state allows it.
func (s *Service) checkPrimary(d *kms.KeyDoc, arn string) error {
	if !d.MultiRegion {
		return kms.ErrNotMultiRegion(arn)
	}
	if kms.PrimaryOf(d) != s.region {
		return kms.NotPrimary(arn)
	}
	switch d.State {
	case kms.StateEnabled:
		return nil
	case kms.StateDisabled:
		return awserr.Newf(awserr.Disabled, "%s is disabled.", arn)
	}
	return kms.RequireUsable(kms.KeyOf(d, arn))
}

// checkReplicable is ReplicateKey's check of the primary: checkPrimary,
// and not while its primary Region changes.
func (s *Service) checkReplicable(d *kms.KeyDoc, arn string) error {
	if err := s.checkPrimary(d, arn); err != nil {
		return err
	}
	return kms.RefuseUpdating(d, arn)
}

// UpdatePrimaryRegion implements the UpdatePrimaryRegion operation,
// called in the Region of the current primary key: this key becomes a
// replica at once (Updating until the new primary confirms), and the new
// primary's Region makes its key the primary when it receives the
// configuration.
func (s *Service) UpdatePrimaryRegion(ctx context.Context, in *wire.UpdatePrimaryRegionInput) (*struct{}, error) {
	if s == nil {
		return nil, errNoReplication()
	}
	if s.off != nil {
		return nil, s.off
	}
	var v kms.Validator
	if v.Required(in.KeyID != nil, "keyId") {
		v.StrLen(in.KeyID, "keyId", 1, 2048)
	}
	if v.Required(in.PrimaryRegion != nil, "primaryRegion") {
		v.Pattern(in.PrimaryRegion, "primaryRegion", 1, 32, regionPattern.MatchString, `^([a-z]+-){2,3}\d+$`)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	region := *in.PrimaryRegion
	lk, err := s.svc.OwnedKey(ctx, in.KeyID, "keyId", "kms:UpdatePrimaryRegion", map[string][]string{"kms:primaryregion": {region}})
	if err != nil {
		return nil, err
	}
	if err := s.checkPrimary(lk.Doc(), lk.ARN()); err != nil {
		return nil, err
	}
	_, err = s.svc.UpdateKey(ctx, lk.Doc().ID, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
		if err := s.checkPrimary(d, lk.ARN()); err != nil {
			return nil, err
		}
		if region == s.region {
			return nil, nil // already the primary
		}
		if !slices.Contains(d.ReplicaRegions, region) {
			return nil, awserr.Newf(awserr.NotFound, "Key '%s' does not exist", s.svc.ARNIn(region, d.Account, d.ID))
		}
		// No replica may be one its Region has not yet created
		// (Creating). The one named could not take the role: its Region
		// would refuse the handover (it takes a new key only from its
		// primary), and this key would stay Updating, with no primary, for
		// ever. Another would never be created: only this Region holds its
		// creation parameters, and its Region takes a new key only from the
		// primary.
		for _, r := range d.ReplicaRegions {
			if _, err := s.svc.Store().Get(ctx, kindCreate, outboxID(r, d.ID)); err == nil {
				return nil, awserr.Newf(awserr.KMSInvalidState, "%s is creating.", s.svc.ARNIn(r, d.Account, d.ID))
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		rs := []string{s.region}
		for _, r := range d.ReplicaRegions {
			if r != region {
				rs = append(rs, r)
			}
		}
		sort.Strings(rs)
		if d.State != kms.StateUpdating { // a new primary still taking over keeps the state it returns to
			d.PriorState, d.State = d.State, kms.StateUpdating
		}
		d.HandoverFrom = ""
		d.PrimaryRegion, d.ReplicaRegions = region, rs
		d.ReplicaPending = nil
		d.MREpoch++
		d.ReplicaSince = maps.Clone(d.ReplicaSince)
		if d.ReplicaSince == nil {
			d.ReplicaSince = map[string]int64{}
		}
		delete(d.ReplicaSince, region)
		d.ReplicaSince[s.region] = d.MREpoch
		// The old primary's rotation job stays and does nothing (a
		// replica does not rotate); the new primary schedules its own.
		return nil, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.svc.NotFoundKey(lk.Doc().Account, lk.Doc().ID)
		}
		return nil, s.svc.StoreErr(ctx, err)
	}
	return &struct{}{}, nil
}

func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// backoff returns the wait before delivery attempt n+1.
func (s *Service) backoff(n int) time.Duration {
	d := time.Second << min(n, 10)
	return min(d, s.maxBO)
}

// runSync is the job handler of jobSync: it sends the key's state to one
// Region and, when the peer answers that it applied it, removes the
// outbox record (with the job, in one write); otherwise it schedules the
// next attempt with backoff. Until then the primary's DescribeKey shows
// the replica PENDING.
func (s *Service) runSync(ctx context.Context, rec store.Record, j kms.Job) (bool, error) {
	region, keyID, _ := strings.Cut(j.KeyID, "/")
	jobOp := store.Op{Kind: kms.KindJob, ID: rec.ID, Delete: true, IfVersion: rec.Version}
	ob, err := s.svc.Store().Get(ctx, KindOutbox, j.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return true, ignoreConflict(s.svc.Store().Apply(ctx, jobOp))
	}
	if err != nil {
		return false, err
	}
	var od outboxDoc
	_ = json.Unmarshal(ob.Data, &od)
	d, keyVersion, err := s.svc.ReadKey(ctx, keyID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	peer, ok := s.peer(ctx, region)
	var ans *Answer
	var createRec *store.Record
	if ok {
		var msg *Message
		msg, createRec, err = s.message(ctx, peer, keyID, &od, d)
		if err == nil {
			ans, err = s.deliver(ctx, peer, msg)
		}
	} else {
		err = fmt.Errorf("no peer is configured for Region %s", region)
	}
	now := s.svc.Now().UTC()
	if err != nil {
		od.Attempts++
		od.LastError = err.Error()
		s.stats.failed(region)
		if od.Attempts == 1 && s.events != nil {
			_ = s.events(ctx, Event{Name: "SynchronizeMultiRegionKey", Account: od.Account, KeyID: keyID,
				Details: map[string]any{"keyId": keyID, "region": region, "status": "PENDING", "reason": od.LastError}})
		}
		s.log.Warn("multi-Region replication: delivery failed; will retry", "region", region, "key", keyID,
			"attempts", od.Attempts, "err", err)
		next := kms.Job{Action: jobSync, KeyID: j.KeyID, Due: now.Add(s.backoff(od.Attempts))}
		ops := []store.Op{jobOp, next.Op(), {Kind: KindOutbox, ID: ob.ID, Data: mustJSON(od), IfVersion: ob.Version}}
		ended := d != nil && newPrimaryHandover(d, s.region, region)
		if ended {
			// A former primary that cannot be reached does not hold the
			// new primary in Updating (it could not rotate automatically
			// or take a replica): the handover ends here, and DescribeKey
			// shows that Region PENDING until it has the state.
			endHandover(d)
			ops = append(ops, store.Op{Kind: "key", ID: d.ID, Data: mustJSON(d), IfVersion: keyVersion})
		}
		err := ignoreConflict(s.svc.Store().Apply(ctx, ops...))
		if ended {
			s.svc.Invalidate("key", keyID)
		}
		return false, err
	}
	ops := []store.Op{jobOp, {Kind: KindOutbox, ID: ob.ID, Delete: true, IfVersion: ob.Version}}
	if createRec != nil {
		ops = append(ops, store.Op{Kind: kindCreate, ID: createRec.ID, Delete: true, IfVersion: createRec.Version})
	}
	// A former primary's handover ends when the new primary has it; a new
	// primary's when the former primary has the new primary's state (or
	// could not be reached, above).
	handoverDone := d != nil &&
		(d.State == kms.StateUpdating && region == kms.PrimaryOf(d) || newPrimaryHandover(d, s.region, region))
	if d != nil && (slices.Contains(d.ReplicaPending, region) || handoverDone) {
		d.ReplicaPending = slices.DeleteFunc(slices.Clone(d.ReplicaPending), func(r string) bool { return r == region })
		if handoverDone {
			endHandover(d)
		}
		ops = append(ops, store.Op{Kind: "key", ID: d.ID, Data: mustJSON(d), IfVersion: keyVersion})
	}
	if err := s.svc.Store().Apply(ctx, ops...); err != nil {
		return false, ignoreConflict(err)
	}
	s.svc.Invalidate("key", keyID)
	s.stats.delivered(region, now.Sub(od.Since))
	_ = ans
	return true, nil
}

// newPrimaryHandover reports whether d is a new primary in this Region
// (here) whose handover waits for the former primary, region.
func newPrimaryHandover(d *kms.KeyDoc, here, region string) bool {
	return d.State == kms.StateUpdating && kms.PrimaryOf(d) == here && region == d.HandoverFrom
}

// formerPrimaryHandover reports whether d is a former primary in this
// Region (here) that is Updating until the Region it handed over to has
// the handover.
func formerPrimaryHandover(d *kms.KeyDoc, here string) bool {
	return d.State == kms.StateUpdating && d.HandoverFrom == "" && kms.PrimaryOf(d) != here &&
		d.PriorState != "" && d.PriorState != kms.StateUpdating
}

// endHandover returns d from Updating to the state it had.
func endHandover(d *kms.KeyDoc) {
	d.State, d.PriorState, d.HandoverFrom = d.PriorState, "", ""
}

func ignoreConflict(err error) error {
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// message builds the message that tells peer the state of key keyID (d,
// nil if it is gone here; od is its outbox record).
func (s *Service) message(ctx context.Context, peer Peer, keyID string, od *outboxDoc, d *kms.KeyDoc) (*Message, *store.Record, error) {
	msg := &Message{V: Version, From: s.region, To: peer.Region, Time: s.svc.Now().UTC(), Nonce: newNonce(),
		KeyID: keyID, Account: od.Account}
	if d == nil {
		msg.Deleted, msg.Epoch = true, od.Epoch
		return msg, nil, nil
	}
	msg.Account = d.Account
	msg.Shared = kms.SharedOf(d)
	var createRec *store.Record
	if rec, err := s.svc.Store().Get(ctx, kindCreate, outboxID(peer.Region, keyID)); err == nil {
		var c CreateParams
		if json.Unmarshal(rec.Data, &c) == nil {
			msg.Create, createRec = &c, &rec
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if d.Origin != "EXTERNAL" {
		msg.Materials = map[string][]byte{}
		for i := range d.Materials {
			m := &d.Materials[i]
			pt, err := s.svc.OpenMaterial(d, m)
			if err != nil {
				return nil, nil, fmt.Errorf("open material: %w", err)
			}
			if pt == nil {
				continue
			}
			w, err := wrap(peer.KEM, d.ID, m.ID, pt)
			clear(pt)
			if err != nil {
				return nil, nil, err
			}
			msg.Materials[m.ID] = w
		}
	}
	return msg, createRec, nil
}

// deliver signs msg, sends it to peer and checks its signed answer.
func (s *Service) deliver(ctx context.Context, peer Peer, msg *Message) (*Answer, error) {
	if s.tr == nil {
		return nil, errors.New("no transport")
	}
	if s.off != nil {
		return nil, s.off
	}
	body := mustJSON(msg)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ab, asig, err := s.tr.Send(ctx, peer, body, s.id.signMessage(body))
	if err != nil {
		return nil, err
	}
	if !verify(peer.Sign, signAnswer, ab, asig) {
		return nil, errors.New("the answer is not signed by the peer's key")
	}
	var a Answer
	if err := json.Unmarshal(ab, &a); err != nil {
		return nil, errors.New("the answer does not parse")
	}
	if a.V != Version || a.From != peer.Region || a.To != s.region || a.Nonce != msg.Nonce {
		return nil, errors.New("the answer is not the answer to this message")
	}
	if a.Error != "" {
		// The refusal's text is the peer's: only the debug log shows it.
		s.log.Debug("multi-Region replication: the peer refused", "region", peer.Region, "refusal", Printable(a.Error, 200))
		return nil, fmt.Errorf("peer %s refused the change (its reason is in this node's debug log)", peer.Region)
	}
	return &a, nil
}

// ErrUnauthenticated is Receive's error for a message that is not signed
// by a configured peer (or not for this Region, or replayed or stale):
// the caller answers it without detail and counts it as a failed
// authentication.
var ErrUnauthenticated = errors.New("replica: message not authenticated")

// Receive applies a message that a peer sent: from names the peer (the
// sender's claim, checked by the signature sig over body). It returns the
// signed answer to send back, or ErrUnauthenticated. A message that is
// authentic but refused (a peer acting on a key it is not the primary of)
// gets an answer with Error set.
func (s *Service) Receive(ctx context.Context, from string, body, sig []byte) (answer, answerSig []byte, err error) {
	if s.off != nil {
		return nil, nil, ErrUnauthenticated
	}
	// Only a declared peer (or a Region of this store already reached):
	// an unauthenticated message never makes this node build anything.
	s.pmu.Lock()
	peer, ok := s.peers[from]
	s.pmu.Unlock()
	if !ok || !verify(peer.Sign, signMessage, body, sig) {
		return nil, nil, ErrUnauthenticated
	}
	var msg Message
	if err := json.Unmarshal(body, &msg); err != nil || msg.V != Version || msg.From != from || msg.To != s.region || len(msg.Nonce) != 32 {
		return nil, nil, ErrUnauthenticated
	}
	now := s.svc.Now().UTC()
	if msg.Time.Before(now.Add(-Window)) || msg.Time.After(now.Add(Window)) || !s.fresh(msg.Nonce, now) {
		return nil, nil, ErrUnauthenticated
	}
	a := Answer{V: Version, From: s.region, To: from, Nonce: msg.Nonce}
	if err := s.apply(ctx, &msg); err != nil {
		if e := awserr.As(err); e != nil {
			a.Error = e.Message
		} else {
			s.log.Error("multi-Region replication: apply", "from", from, "key", msg.KeyID, "err", err)
			a.Error = "internal error"
		}
		s.stats.refused(from)
	} else {
		s.stats.received(from)
	}
	ab := mustJSON(a)
	return ab, s.id.signAnswer(ab), nil
}

// fresh records nonce and reports whether it was not seen within Window.
func (s *Service) fresh(nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.nonces[nonce]; seen {
		return false
	}
	if len(s.nonces) > 4096 {
		for n, t := range s.nonces {
			if now.Sub(t) > 2*Window {
				delete(s.nonces, n)
			}
		}
	}
	s.nonces[nonce] = now
	return true
}

func refused(format string, args ...any) error {
	return awserr.Newf(awserr.KMSInvalidState, format, args...)
}

// apply makes this Region's member of msg.KeyID take the state msg
// carries. A peer may act only on a key whose primary is in its own
// Region (as this Region knows it), and tell a primary here only that its
// own replica is gone.
func (s *Service) apply(ctx context.Context, msg *Message) error {
	if !strings.HasPrefix(msg.KeyID, "mrk-") || !kms.ValidKeyID(msg.KeyID) {
		return refused("not a multi-Region key ID")
	}
	cur, _, err := s.svc.ReadKey(ctx, msg.KeyID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if cur != nil && cur.Account != msg.Account {
		return refused("the key belongs to another account")
	}
	if msg.Deleted {
		return s.applyDeleted(ctx, msg, cur)
	}
	sh := msg.Shared
	if sh == nil || sh.ID != msg.KeyID || sh.Account != msg.Account {
		return refused("no state")
	}
	if cur == nil {
		if sh.PrimaryRegion != msg.From || !slices.Contains(sh.ReplicaRegions, s.region) || msg.Create == nil {
			return refused("the sender is not the primary of a replica here")
		}
		return s.createReplica(ctx, msg)
	}
	if cur.MultiRegion && kms.PrimaryOf(cur) == s.region && slices.Contains(cur.ReplicaRegions, msg.From) {
		// A former primary resending its handover after this Region took
		// the role (its first answer raced with a change): nothing to
		// apply, but its delivery is done.
		return nil
	}
	if cur.MultiRegion && slices.Contains(cur.ReplicaRegions, msg.From) && sh.Epoch <= cur.MREpoch {
		// A former primary resending a state this Region already has or
		// has gone past (its first answer was lost, and the new primary
		// spoke since): nothing to apply, but its delivery is done, or it
		// would retry for ever.
		return nil
	}
	if !cur.MultiRegion || kms.PrimaryOf(cur) != msg.From {
		return refused("the sender is not this key's primary Region")
	}
	if sh.Epoch < cur.MREpoch {
		return nil // an older state: already superseded
	}
	if sh.PrimaryRegion != s.region && !slices.Contains(sh.ReplicaRegions, s.region) {
		return refused("this Region is not a member of the key")
	}
	becamePrimary := false
	_, err = s.svc.UpdateKey(ctx, msg.KeyID, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
		wasPrimary := kms.PrimaryOf(d) == s.region
		if formerPrimaryHandover(d, s.region) && kms.PrimaryOf(d) == msg.From && sh.Epoch > d.MREpoch {
			// A former primary waiting for the Region it handed over to:
			// a newer state from that Region (it spoke as the primary) is
			// proof that it has the handover, even if the answer to this
			// Region's delivery was lost, and the retry can no longer end
			// it (the primary moved on, or came back here).
			endHandover(d)
		}
		if _, err := kms.ApplyShared(d, sh, s.sealer(msg)); err != nil {
			return nil, err
		}
		var ops []store.Op
		becamePrimary = !wasPrimary && kms.PrimaryOf(d) == s.region
		if becamePrimary {
			ops = append(ops, s.svc.FollowUpJobs(d)...)
			// Both keys are Updating while the primary changes (AWS):
			// this one until the former primary has its state as the
			// new primary (runSync), which only a former primary that
			// is still a member is sent (else nothing would end it).
			if (d.State == kms.StateEnabled || d.State == kms.StateDisabled) && slices.Contains(d.ReplicaRegions, msg.From) {
				d.PriorState, d.State = d.State, kms.StateUpdating
				d.HandoverFrom = msg.From
			}
			// A replica scheduled for deletion that becomes the primary
			// (AWS would refuse the handover; the former primary's Region
			// could not see this independent state) waits, as a primary
			// with replicas does, for its replicas to go: destroyed at
			// the end of its window, it would leave them replicas of a
			// key that no longer exists. Its deletion job finds it no
			// longer PendingDeletion and does nothing.
			if d.State == kms.StatePendingDeletion && len(d.ReplicaRegions) > 0 {
				d.State, d.DeletionDate = kms.StatePendingReplicaDeletion, time.Time{}
			}
		}
		return ops, nil
	})
	if err != nil {
		return err
	}
	name := "SynchronizeMultiRegionKey"
	if becamePrimary {
		name = "UpdatePrimaryRegion"
	}
	s.record(ctx, name, msg)
	return nil
}

func (s *Service) record(ctx context.Context, name string, msg *Message) {
	if s.events == nil {
		return
	}
	if err := s.events(ctx, Event{Name: name, Account: msg.Account, KeyID: msg.KeyID,
		Details: map[string]any{"keyId": msg.KeyID, "fromRegion": msg.From}}); err != nil {
		s.log.Error("multi-Region replication: record event", "event", name, "err", err)
	}
}

// sealer returns the seal function of kms.ApplyShared for msg's materials.
func (s *Service) sealer(msg *Message) func(string) ([]byte, error) {
	return func(mid string) ([]byte, error) {
		w, ok := msg.Materials[mid]
		if !ok {
			return nil, nil
		}
		pt, err := unwrap(s.id.kem, msg.KeyID, mid, w)
		if err != nil {
			return nil, err
		}
		defer clear(pt)
		if err := kms.CheckMaterial(msg.Shared.Spec, msg.Shared.Usage, mid, pt); err != nil {
			return nil, refused("a key material is not one of the key's spec")
		}
		return s.svc.SealMaterial(msg.KeyID, mid, pt)
	}
}

func (s *Service) createReplica(ctx context.Context, msg *Message) error {
	now := s.svc.Now().UTC()
	c := msg.Create
	d := &kms.KeyDoc{ID: msg.KeyID, Account: msg.Account, Region: s.region, Created: now, Description: c.Description,
		State: kms.StateEnabled, Manager: "CUSTOMER", MultiRegion: true, Policy: c.Policy}
	arn := s.svc.ARNIn(s.region, d.Account, d.ID)
	if ids, err := s.svc.CheckPolicy(ctx, c.Policy, arn, true); err == nil {
		d.PolicyPrincipals = ids
	} else {
		// A principal the policy names does not exist here: the replica
		// gets the default policy (docs/multi-region.md).
		s.log.Warn("multi-Region replication: the replica's policy does not apply here; default policy used", "key", arn, "err", err)
		d.Policy = kms.DefaultKeyPolicy(s.svc.Partition(), d.Account)
	}
	for _, t := range c.Tags {
		if t.TagKey != nil && t.TagValue != nil {
			d.Tags = append(d.Tags, kms.TagDoc{Key: *t.TagKey, Value: *t.TagValue})
		}
	}
	if _, err := kms.ApplyShared(d, msg.Shared, s.sealer(msg)); err != nil {
		return err
	}
	if d.Origin == "EXTERNAL" && d.State == kms.StateEnabled && d.CurrentMaterial == "" {
		d.State = kms.StatePendingImport
	}
	if err := s.svc.CreateReplica(ctx, d); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil // a retry of a delivery that was applied
		}
		return err
	}
	s.record(ctx, "ReplicateKey", msg)
	return nil
}

func (s *Service) applyDeleted(ctx context.Context, msg *Message, cur *kms.KeyDoc) error {
	if cur == nil {
		return nil
	}
	// The notice is about the replica of msg.Epoch: one of an earlier
	// replica in that Region (a notice replayed to a node that has not
	// seen its nonce, after the Region was replicated again) acts on
	// nothing.
	current := func(d *kms.KeyDoc) bool {
		return kms.PrimaryOf(d) == s.region && slices.Contains(d.ReplicaRegions, msg.From) && msg.Epoch >= d.ReplicaSince[msg.From]
	}
	if !current(cur) {
		return nil // not a replica of a primary here (any more): nothing to do
	}
	removed := false
	_, err := s.svc.UpdateKey(ctx, msg.KeyID, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
		if !current(d) {
			return nil, nil
		}
		removed = true
		d.ReplicaRegions = slices.DeleteFunc(slices.Clone(d.ReplicaRegions), func(r string) bool { return r == msg.From })
		d.ReplicaPending = slices.DeleteFunc(slices.Clone(d.ReplicaPending), func(r string) bool { return r == msg.From })
		d.ReplicaSince = maps.Clone(d.ReplicaSince)
		delete(d.ReplicaSince, msg.From)
		d.MREpoch++
		var ops []store.Op
		if d.State == kms.StatePendingReplicaDeletion && len(d.ReplicaRegions) == 0 {
			ops = append(ops, s.svc.StartDeletion(d))
		}
		return ops, nil
	})
	if err == nil && removed {
		s.record(ctx, "SynchronizeMultiRegionKey", msg)
	}
	return err
}

// errNoReplication answers the multi-Region operations on a node built
// without the concern.
func errNoReplication() error {
	return awserr.New(awserr.UnsupportedOperation, "This node serves no multi-Region replication.")
}

// Router is the Transport of a deployment whose store other Regions share:
// it hands a message for one of them to that Region's Service in-process
// (Local, signed and checked as over the network), and any other to
// Remote.
type Router struct {
	From   string
	Remote Transport
	mu     sync.Mutex
	local  map[string]*Service
}

// AddLocal makes s, the Service of another Region on the same store, the
// receiver of that Region's messages.
func (r *Router) AddLocal(s *Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local == nil {
		r.local = map[string]*Service{}
	}
	r.local[s.region] = s
}

// Send implements Transport.
func (r *Router) Send(ctx context.Context, p Peer, body, sig []byte) ([]byte, []byte, error) {
	r.mu.Lock()
	l := r.local[p.Region]
	r.mu.Unlock()
	if l != nil {
		return l.Receive(ctx, r.From, body, sig)
	}
	if r.Remote == nil {
		return nil, nil, errors.New("no transport")
	}
	return r.Remote.Send(ctx, p, body, sig)
}

// Public returns the public identity of this Service's deployment.
func (s *Service) Public() Public {
	if s.id == nil {
		return Public{Region: s.region}
	}
	return s.id.Public()
}
