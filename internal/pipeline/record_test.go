package pipeline

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
)

// resourceCodec records a call on the keys of the given accounts.
type resourceCodec struct {
	fakeCodec
	accounts []string
	// refused lists the accounts whose keys did not allow the call.
	refused []string
}

func (c *resourceCodec) Record(_ *Request, ev *audit.Event) {
	ev.EventSource, ev.EventName, ev.AWSRegion = "kms.amazonaws.com", "Encrypt", "us-east-1"
	for _, a := range c.accounts {
		ev.Resources = append(ev.Resources, audit.Resource{AccountID: a, Type: audit.ResourceTypeKMSKey, ARN: "arn:aws:kms:us-east-1:" + a + ":key/k",
			Allowed: a != c.Caller.Account && !slices.Contains(c.refused, a)})
	}
}

// TestRecordCrossAccount checks which calls the pipeline records in the
// account of the resource's owner too: those that used another account's
// resource, succeeded or failed, but not those refused for want of
// permission (AWS records those in the caller's account only).
func TestRecordCrossAccount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, err := audit.Open(audit.Options{Dir: dir, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Audit: log, Log: slog.New(slog.DiscardHandler)}
	caller := &kms.Caller{Account: "111122223333", Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/u", PrincipalID: "AIDAU", AccessKeyID: "AKIAU", UserName: "u"}
	cases := []struct {
		name     string
		accounts []string
		refused  []string
		err      *awserr.Error
		want     []string // recipients, in trail order
	}{
		{"ok/same-account", []string{"111122223333"}, nil, nil, []string{"111122223333"}},
		{"ok/other-account", []string{"444455556666"}, nil, nil, []string{"111122223333", "444455556666"}},
		{"ok/two-others", []string{"444455556666", "111122223333", "777788889999"}, nil, nil, []string{"111122223333", "444455556666", "777788889999"}},
		{"ok/failed-after-authorization", []string{"444455556666"}, nil, awserr.New(awserr.KMSInvalidState, "disabled"), []string{"111122223333", "444455556666"}},
		{"fail/denied-kms", []string{"444455556666"}, nil, awserr.New(awserr.AccessDenied, "no"), []string{"111122223333"}},
		{"fail/denied-query", []string{"444455556666"}, nil, awserr.New("AccessDenied", "no"), []string{"111122223333"}},
		{"fail/failed-before-authorization", []string{"444455556666"}, []string{"444455556666"}, awserr.New("InvalidCiphertextException", ""), []string{"111122223333"}},
	}
	for _, c := range cases {
		x := &resourceCodec{accounts: c.accounts, refused: c.refused}
		x.Caller, x.ReqID, x.Start, x.Err = caller, c.name, time.Now(), c.err
		if err := p.record(x, request()); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	byReq := map[string][]*audit.Event{}
	if err := audit.Read(dir, audit.Filter{}, func(e audit.Entry) error {
		byReq[e.Event.RequestID] = append(byReq[e.Event.RequestID], e.Event)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		es := byReq[c.name]
		var got []string
		for _, e := range es {
			got = append(got, e.RecipientAccountID)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: records for %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: records for %v, want %v", c.name, got, c.want)
			}
		}
		if len(es) == 1 {
			if es[0].SharedEventID != "" {
				t.Errorf("%s: one record with a sharedEventID", c.name)
			}
			continue
		}
		if es[0].UserIdentity.ARN != caller.ARN || es[0].SharedEventID == "" {
			t.Errorf("%s: the caller's record: %+v", c.name, es[0])
		}
		for _, e := range es[1:] {
			if e.SharedEventID != es[0].SharedEventID || e.EventID == es[0].EventID || e.UserIdentity.Type != "AWSAccount" || e.UserIdentity.ARN != "" {
				t.Errorf("%s: the owner's record: %+v %+v", c.name, e, e.UserIdentity)
			}
			if (c.err == nil) != (e.ErrorCode == "") {
				t.Errorf("%s: the owner's record has error %q", c.name, e.ErrorCode)
			}
		}
	}
}
