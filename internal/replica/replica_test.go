package replica

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// region is one deployment: its own store, root key and identity.
type region struct {
	node *kmstest.Node
	r    *Service
	id   *Identity
}

// direct delivers in-process to the Services it knows, as over the wire.
type direct struct {
	from string
	to   map[string]*Service
	sent [][]byte
}

func (d *direct) Send(ctx context.Context, p Peer, body, sig []byte) ([]byte, []byte, error) {
	d.sent = append(d.sent, body)
	s := d.to[p.Region]
	if s == nil {
		return nil, nil, errors.New("down")
	}
	return s.Receive(ctx, d.from, body, sig)
}

// now is the clock of every region of a test: tests that move it run
// alone.
var now = struct {
	sync.Mutex
	off time.Duration
}{}

func clockNow() time.Time {
	now.Lock()
	defer now.Unlock()
	return time.Now().Add(now.off)
}

func advance(d time.Duration) {
	now.Lock()
	now.off += d
	now.Unlock()
}

func newRegion(t *testing.T, name string, rootByte byte) (*region, *direct) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(bytes.Repeat([]byte{rootByte}, 32))
	if err != nil {
		t.Fatal(err)
	}
	n := kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: st, Root: root, Region: name, Now: clockNow}})
	id, err := LoadIdentity(context.Background(), st, root, name)
	if err != nil {
		t.Fatal(err)
	}
	tr := &direct{from: name, to: map[string]*Service{}}
	return &region{node: n, id: id}, tr
}

func peerOf(t *testing.T, r *region) Peer {
	t.Helper()
	p, err := ParsePeer(r.id.Public(), "direct:"+r.id.Region)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// link builds the Services of regions that all know each other.
func link(t *testing.T, rs []*region, trs []*direct) {
	for i, r := range rs {
		var peers []Peer
		for j, o := range rs {
			if j != i {
				peers = append(peers, peerOf(t, o))
			}
		}
		r.r = New(Config{KMS: r.node.Service, Identity: r.id, Peers: peers, Transport: trs[i]})
	}
	for i := range rs {
		for j, o := range rs {
			if j != i {
				trs[i].to[o.id.Region] = o.r
			}
		}
	}
}

var ctx = kms.WithCaller(context.Background(), &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"})

func ptr[T any](v T) *T { return &v }

func TestReplicationAndAttacks(t *testing.T) {
	us, trUS := newRegion(t, "us-east-1", 1)
	eu, trEU := newRegion(t, "eu-west-1", 2)
	ap, trAP := newRegion(t, "ap-southeast-2", 3)
	link(t, []*region{us, eu, ap}, []*direct{trUS, trEU, trAP})

	ck, err := us.node.CreateKey(ctx, &wire.CreateKeyInput{MultiRegion: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyID
	if _, err := us.r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	d, _, err := eu.node.ReadKey(ctx, id)
	if err != nil || d.State != kms.StateEnabled || kms.PrimaryOf(d) != "us-east-1" {
		t.Fatalf("replica in eu-west-1: %+v, %v", d, err)
	}
	valid := trUS.sent[len(trUS.sent)-1]

	t.Run("ok/material-crossed-wrapped", func(t *testing.T) {
		pd, _, _ := us.node.ReadKey(ctx, id)
		pt, err := us.node.OpenMaterial(pd, &pd.Materials[0])
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(valid, pt) {
			t.Fatal("the material crossed in the clear")
		}
	})

	// The attacks: what reaches Receive without the sender's key.
	sign := func(r *region, body []byte) []byte { return r.id.signMessage(body) }
	msgFrom := func(from string, mutate func(*Message)) []byte {
		m := &Message{V: Version, From: from, To: "eu-west-1", Time: time.Now().UTC(), Nonce: newNonce(), KeyID: id, Account: "111122223333"}
		pd, _, _ := us.node.ReadKey(ctx, id)
		m.Shared = kms.SharedOf(pd)
		if mutate != nil {
			mutate(m)
		}
		return mustJSON(m)
	}
	for _, tc := range []struct {
		name string
		from string
		body []byte
		sig  []byte
	}{
		{"fail/unsigned", "us-east-1", msgFrom("us-east-1", nil), nil},
		{"fail/signed-by-another-peer", "us-east-1", msgFrom("us-east-1", nil), sign(ap, msgFrom("us-east-1", nil))},
		{"fail/tampered", "us-east-1", append(msgFrom("us-east-1", nil), ' '), sign(us, msgFrom("us-east-1", nil))},
		{"fail/unknown-peer", "sa-east-1", msgFrom("sa-east-1", nil), nil},
		{"fail/replayed", "us-east-1", valid, sign(us, valid)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := eu.r.Receive(ctx, tc.from, tc.body, tc.sig); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Receive = %v, want ErrUnauthenticated", err)
			}
		})
	}
	t.Run("fail/other-region", func(t *testing.T) {
		b := msgFrom("us-east-1", func(m *Message) { m.To = "ap-southeast-2" })
		if _, _, err := eu.r.Receive(ctx, "us-east-1", b, sign(us, b)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Receive = %v", err)
		}
	})
	t.Run("fail/stale", func(t *testing.T) {
		b := msgFrom("us-east-1", func(m *Message) { m.Time = m.Time.Add(-10 * time.Minute) })
		if _, _, err := eu.r.Receive(ctx, "us-east-1", b, sign(us, b)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Receive = %v", err)
		}
	})
	// A peer that is authentic but not the key's primary Region may not
	// change it: ap-southeast-2 tries to make itself primary and to push
	// material of its own.
	t.Run("fail/peer-not-primary", func(t *testing.T) {
		b := msgFrom("ap-southeast-2", func(m *Message) {
			m.Shared.PrimaryRegion = "ap-southeast-2"
			m.Shared.Epoch += 10
			m.Shared.CurrentMaterial = "00"
		})
		ans, asig, err := eu.r.Receive(ctx, "ap-southeast-2", b, sign(ap, b))
		if err != nil || !verify(eu.id.sign.Public().(ed25519.PublicKey), signAnswer, ans, asig) {
			t.Fatalf("Receive = %v", err)
		}
		if !bytes.Contains(ans, []byte(`"error"`)) {
			t.Fatalf("answer %s: the change was accepted", ans)
		}
		d, _, _ := eu.node.ReadKey(ctx, id)
		if kms.PrimaryOf(d) != "us-east-1" {
			t.Fatal("a peer that is not the primary changed the key")
		}
	})
	// An older state, even authentic and fresh (a delivery overtaken by a
	// newer one), never rolls the replica back.
	t.Run("ok/older-state-ignored", func(t *testing.T) {
		old, _, _ := us.node.ReadKey(ctx, id)
		if _, err := us.node.RotateKeyOnDemand(ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
			t.Fatal(err)
		}
		if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
		newer, _, _ := eu.node.ReadKey(ctx, id)
		if newer.CurrentMaterial == old.CurrentMaterial {
			t.Fatal("the rotation did not reach the replica")
		}
		b := msgFrom("us-east-1", func(m *Message) { m.Shared = kms.SharedOf(old) })
		if _, _, err := eu.r.Receive(ctx, "us-east-1", b, sign(us, b)); err != nil {
			t.Fatal(err)
		}
		if d, _, _ := eu.node.ReadKey(ctx, id); d.CurrentMaterial != newer.CurrentMaterial {
			t.Fatal("an older state rolled the replica's current material back")
		}
	})
	t.Run("fail/peer-creates-key-of-another-primary", func(t *testing.T) {
		b := msgFrom("ap-southeast-2", func(m *Message) {
			m.KeyID, m.Shared.ID = "mrk-0123456789abcdef0123456789abcdef", "mrk-0123456789abcdef0123456789abcdef"
			m.Create = &CreateParams{}
		})
		ans, _, err := eu.r.Receive(ctx, "ap-southeast-2", b, sign(ap, b))
		if err != nil || !bytes.Contains(ans, []byte(`"error"`)) {
			t.Fatalf("answer %s, %v", ans, err)
		}
	})
}

func TestWrapBinding(t *testing.T) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateHybridIdentity()
	m := bytes.Repeat([]byte{7}, 32)
	w, err := wrap(id.Recipient(), "mrk-a", "m1", m)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := unwrap(id, "mrk-a", "m1", w); err != nil || !bytes.Equal(got, m) {
		t.Fatalf("unwrap = %v", err)
	}
	if _, err := unwrap(id, "mrk-b", "m1", w); err == nil {
		t.Fatal("unwrapped for another key")
	}
	if _, err := unwrap(id, "mrk-a", "m2", w); err == nil {
		t.Fatal("unwrapped as another material")
	}
	if _, err := unwrap(other, "mrk-a", "m1", w); err == nil {
		t.Fatal("unwrapped with another identity")
	}
	if bytes.Contains(w, m) {
		t.Fatal("the material is in the wrapped form")
	}
}

// TestAutomaticRotation: the primary's automatic rotation reaches its
// replica, which shows the rotation settings but does not rotate itself.
func TestAutomaticRotation(t *testing.T) {
	rs, _, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 4)
	us, eu := rs[0], rs[1]
	if _, err := us.node.EnableKeyRotation(ctx, &wire.EnableKeyRotationInput{KeyID: &id, RotationPeriodInDays: ptr(int64(90))}); err != nil {
		t.Fatal(err)
	}
	if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := eu.node.GetKeyRotationStatus(ctx, &wire.KeyIDInput{KeyID: &id})
	if err != nil || !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 {
		t.Fatalf("the replica's rotation status: %+v, %v", st, err)
	}
	before, _, _ := eu.node.ReadKey(ctx, id)
	advance(91 * 24 * time.Hour)
	defer advance(-91 * 24 * time.Hour)
	// The replica's own scheduler does nothing; the primary's rotates and
	// then delivers.
	if _, err := eu.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := eu.node.ReadKey(ctx, id); d.CurrentMaterial != before.CurrentMaterial {
		t.Fatal("the replica rotated on its own")
	}
	for range 2 {
		if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p, _, _ := us.node.ReadKey(ctx, id)
	r, _, _ := eu.node.ReadKey(ctx, id)
	if p.CurrentMaterial == before.CurrentMaterial || r.CurrentMaterial != p.CurrentMaterial || len(r.Materials) != 2 {
		t.Fatalf("after the automatic rotation: primary %s, replica %s (%d materials)", p.CurrentMaterial, r.CurrentMaterial, len(r.Materials))
	}
	if len(p.ReplicaPending) != 0 {
		t.Fatalf("the replica is still pending: %v", p.ReplicaPending)
	}
}

// TestHandover: UpdatePrimaryRegion moves the primary; the old primary is
// Updating until the new one answers, then a replica; a resent handover
// (its first answer raced with a change) is acknowledged and changes
// nothing.
func TestHandover(t *testing.T) {
	rs, _, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 6)
	us, eu := rs[0], rs[1]
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := us.node.ReadKey(ctx, id); d.State != kms.StateUpdating || !kms.IsReplica(d) {
		t.Fatalf("the old primary: %s, replica %v", d.State, kms.IsReplica(d))
	}
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err == nil {
		t.Fatal("UpdatePrimaryRegion on the old primary succeeded")
	}
	// While Updating, the state changes of footnote [15] are refused;
	// cryptography works.
	updating := func(r *region, what string) {
		t.Helper()
		arnSuffix := ":key/" + id + " is updating."
		for name, call := range map[string]func() error{
			"DisableKey": func() error { _, err := r.node.DisableKey(ctx, &wire.KeyIDInput{KeyID: &id}); return err },
			"EnableKey":  func() error { _, err := r.node.EnableKey(ctx, &wire.KeyIDInput{KeyID: &id}); return err },
			"ScheduleKeyDeletion": func() error {
				_, err := r.node.ScheduleKeyDeletion(ctx, &wire.ScheduleKeyDeletionInput{KeyID: &id, PendingWindowInDays: ptr[int64](7)})
				return err
			},
		} {
			if e := awserr.As(call()); e == nil || e.Code != awserr.KMSInvalidState || !strings.HasSuffix(e.Message, arnSuffix) {
				t.Errorf("%s: %s on a key Updating: %v; want KMSInvalidStateException %q", what, name, e, arnSuffix)
			}
		}
		if _, err := r.node.Encrypt(ctx, &wire.EncryptInput{KeyID: &id, Plaintext: []byte("x")}); err != nil {
			t.Errorf("%s: Encrypt while Updating: %v", what, err)
		}
		if d, _, _ := r.node.ReadKey(ctx, id); d.State != kms.StateUpdating {
			t.Errorf("%s: state %s; want Updating", what, d.State)
		}
	}
	updating(us, "the old primary")
	us.node.Jobs.RunDueJobs(ctx)
	d, _, _ := us.node.ReadKey(ctx, id)
	e, _, _ := eu.node.ReadKey(ctx, id)
	if d.State != kms.StateEnabled || kms.PrimaryOf(e) != "eu-west-1" || kms.IsReplica(e) {
		t.Fatalf("after the handover: old %s (primary %s), new primary %s", d.State, kms.PrimaryOf(d), kms.PrimaryOf(e))
	}
	// Both keys are Updating while it happens: the new primary until the
	// old one has its state.
	updating(eu, "the new primary")
	if _, err := eu.r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr("ap-southeast-2")}); awserr.CodeOf(err) != awserr.KMSInvalidState {
		t.Errorf("ReplicateKey from a primary Updating: %v; want KMSInvalidStateException", err)
	}
	eu.node.Jobs.RunDueJobs(ctx)
	if e, _, _ = eu.node.ReadKey(ctx, id); e.State != kms.StateEnabled || e.HandoverFrom != "" {
		t.Fatalf("the new primary after the old one answered: %s (handover from %q)", e.State, e.HandoverFrom)
	}
	b := mustJSON(&Message{V: Version, From: "us-east-1", To: "eu-west-1", Time: clockNow().UTC(), Nonce: newNonce(),
		KeyID: id, Account: d.Account, Shared: kms.SharedOf(d)})
	ans, _, err := eu.r.Receive(ctx, "us-east-1", b, us.id.signMessage(b))
	if err != nil || bytes.Contains(ans, []byte(`"error"`)) {
		t.Fatalf("resent handover: %s, %v", ans, err)
	}
	if e2, _, _ := eu.node.ReadKey(ctx, id); e2.MREpoch != e.MREpoch || kms.PrimaryOf(e2) != "eu-west-1" {
		t.Fatal("a resent handover changed the new primary")
	}
}

// losing delivers through direct, but loses the answers of the Regions in
// lose: the sender cannot tell that its message was applied.
type losing struct {
	*direct
	lose map[string]bool
}

func (l *losing) Send(ctx context.Context, p Peer, body, sig []byte) ([]byte, []byte, error) {
	ab, as, err := l.direct.Send(ctx, p, body, sig)
	if err == nil && l.lose[p.Region] {
		return nil, nil, errors.New("answer lost")
	}
	return ab, as, err
}

// TestLateMessageFromFormerPrimary: a former primary that resends its
// handover to a replica (its first answer was lost), after the replica
// took the new primary's newer state, is told it is done (nothing to
// apply), not refused and left retrying for ever; the replica keeps the
// newer state.
func TestLateMessageFromFormerPrimary(t *testing.T) {
	rs, lossy, id := replicatedKey(t, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, 21)
	us, eu, ap := rs[0], rs[1], rs[2]
	// us hands over to eu; ap applies it, but its answer is lost.
	lossy.lose["ap-southeast-2"] = true
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if pend, _ := Outbox(ctx, us.node.Store()); len(pend) != 1 {
		t.Fatalf("the former primary's outbox: %+v; want ap pending", pend)
	}
	// The new primary rotates; ap takes it.
	if _, err := eu.node.RotateKeyOnDemand(ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
		t.Fatal(err)
	}
	if _, err := eu.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	before, _, _ := ap.node.ReadKey(ctx, id)
	if kms.PrimaryOf(before) != "eu-west-1" || len(before.Materials) != 2 {
		t.Fatalf("ap after eu's rotation: primary %s, %d materials", kms.PrimaryOf(before), len(before.Materials))
	}
	// us retries, and now hears the answer.
	lossy.lose["ap-southeast-2"] = false
	advance(time.Minute)
	if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if pend, err := Outbox(ctx, us.node.Store()); err != nil || len(pend) != 0 {
		t.Fatalf("the former primary's outbox: %+v, %v; want it delivered", pend, err)
	}
	after, _, _ := ap.node.ReadKey(ctx, id)
	if after.MREpoch != before.MREpoch || kms.PrimaryOf(after) != "eu-west-1" || len(after.Materials) != 2 {
		t.Fatalf("the late message changed ap: epoch %d → %d, primary %s, %d materials",
			before.MREpoch, after.MREpoch, kms.PrimaryOf(after), len(after.Materials))
	}
}

// TestHandoverFormerPrimaryUnreachable: a new primary whose former primary
// cannot be reached is not left Updating (it could neither rotate
// automatically nor take a replica): its handover ends at the failed
// delivery, and the former primary shows as pending until it has the state.
func TestHandoverFormerPrimaryUnreachable(t *testing.T) {
	rs, _, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 31)
	us, eu := rs[0], rs[1]
	trEU := eu.r.tr.(*direct)
	us.node.Jobs.RunDueJobs(ctx)
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	us.node.Jobs.RunDueJobs(ctx)
	if e, _, _ := eu.node.ReadKey(ctx, id); e.State != kms.StateUpdating {
		t.Fatalf("the new primary: %s; want Updating", e.State)
	}
	usSvc := trEU.to["us-east-1"]
	delete(trEU.to, "us-east-1")
	eu.node.Jobs.RunDueJobs(ctx)
	e, _, _ := eu.node.ReadKey(ctx, id)
	if e.State != kms.StateEnabled || e.HandoverFrom != "" || !slices.Contains(e.ReplicaPending, "us-east-1") {
		t.Fatalf("the new primary after a failed delivery to the former: %s, handover from %q, pending %v", e.State, e.HandoverFrom, e.ReplicaPending)
	}
	if _, err := eu.node.DisableKey(ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
		t.Fatalf("DisableKey after the handover ended: %v", err)
	}
	// The former primary returns and catches up; the key stays Disabled.
	trEU.to["us-east-1"] = usSvc
	advance(time.Minute)
	eu.node.Jobs.RunDueJobs(ctx)
	if e, _, _ := eu.node.ReadKey(ctx, id); e.State != kms.StateDisabled || len(e.ReplicaPending) != 0 {
		t.Fatalf("after the former primary returned: %s, pending %v", e.State, e.ReplicaPending)
	}
}
