package replica

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/wire"
)

// refusing delivers through direct, then answers for the receiver with a
// refusal whose text is junk (a peer that chooses it), signed by it.
type refusing struct {
	*direct
	as *Identity
}

func (r refusing) Send(ctx context.Context, p Peer, body, sig []byte) ([]byte, []byte, error) {
	ab, _, err := r.direct.Send(ctx, p, body, sig)
	if err != nil {
		return nil, nil, err
	}
	var a Answer
	if err := json.Unmarshal(ab, &a); err != nil {
		return nil, nil, err
	}
	a.Error = "\x1b[2Jdelivered OK\nlevel=INFO msg=forged \u202e" + strings.Repeat("x", 300)
	ab = mustJSON(a)
	return ab, r.as.signAnswer(ab), nil
}

// TestFailureReasonIsTrentChosen: the reason a failed delivery records (the
// outbox's last error, the trail's SynchronizeMultiRegionKey event) is
// Trent's description, not the text the peer answered.
func TestFailureReasonIsTrentChosen(t *testing.T) {
	us, trUS := newRegion(t, "us-east-1", 10)
	eu, trEU := newRegion(t, "eu-west-1", 11)
	link(t, []*region{us, eu}, []*direct{trUS, trEU})
	var events []Event
	us.r = New(Config{KMS: us.node.Service, Identity: us.id, Peers: []Peer{peerOf(t, eu)}, Transport: refusing{trUS, eu.id},
		Events: func(_ context.Context, ev Event) error { events = append(events, ev); return nil }})
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
	const want = "peer eu-west-1 refused the change (its reason is in this node's debug log)"
	pend, err := Outbox(ctx, us.node.Store())
	if err != nil || len(pend) != 1 || pend[0].LastError != want {
		t.Fatalf("outbox: %+v, %v; want last error %q", pend, err, want)
	}
	if len(events) != 1 || events[0].Details["reason"] != want {
		t.Fatalf("trail events: %+v; want reason %q", events, want)
	}
}
