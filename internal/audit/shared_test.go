package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

const (
	callerAcct = "111122223333"
	ownerAcct  = "444455556666"
	thirdAcct  = "777788889999"
)

// crossEvent is a ReEncrypt by a user of callerAcct from a key of ownerAcct
// to a key of thirdAcct (and, if dup, a second key of ownerAcct).
func crossEvent(i int, at time.Time, dup bool) *Event {
	e := testEvent(i, at)
	e.EventID = NewEventID()
	e.EventName = "ReEncrypt"
	e.Resources = []Resource{
		{AccountID: ownerAcct, Type: ResourceTypeKMSKey, ARN: "arn:aws:kms:us-east-1:" + ownerAcct + ":key/a", Allowed: true},
		{AccountID: thirdAcct, Type: ResourceTypeKMSKey, ARN: "arn:aws:kms:us-east-1:" + thirdAcct + ":key/b", Allowed: true},
	}
	if dup {
		e.Resources = append(e.Resources, Resource{AccountID: ownerAcct, Type: ResourceTypeKMSKey, ARN: "arn:aws:kms:us-east-1:" + ownerAcct + ":key/c", Allowed: true})
	}
	return e
}

func TestOwnerCopies(t *testing.T) { // not parallel: AllocsPerRun
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	t.Run("ok/same-account", func(t *testing.T) {
		e := testEvent(1, at)
		e.Resources = append(e.Resources, Resource{Type: "AWS::KMS::Alias", ARN: "arn:aws:kms:us-east-1:111122223333:alias/x"}, Resource{Type: "x"})
		if Crossing(e) {
			t.Fatal("a call on the caller's own key crosses accounts")
		}
		if cs := OwnerCopies(e); len(cs) != 0 || e.SharedEventID != "" {
			t.Fatalf("%d copies, sharedEventID %q", len(cs), e.SharedEventID)
		}
		if n := testing.AllocsPerRun(100, func() { Crossing(e) }); n != 0 {
			t.Errorf("Crossing allocates %v times", n)
		}
	})
	t.Run("ok/named-not-allowed", func(t *testing.T) {
		// A key of another account that the call named but that did not
		// allow it (refused, or failed on before authorization).
		e := crossEvent(3, at, false)
		e.Resources[1].Allowed = false
		cs := OwnerCopies(e)
		if !Crossing(e) || len(cs) != 1 || cs[0].RecipientAccountID != ownerAcct {
			t.Fatalf("copies for %v", recipients(cs))
		}
		e = crossEvent(4, at, false)
		e.Resources[0].Allowed, e.Resources[1].Allowed = false, false
		if Crossing(e) || len(OwnerCopies(e)) != 0 || e.SharedEventID != "" {
			t.Fatal("a call no other account allowed is copied")
		}
	})
	t.Run("ok/two-owners", func(t *testing.T) {
		e := crossEvent(2, at, true)
		if !Crossing(e) {
			t.Fatal("not crossing")
		}
		callerIdentity := *e.UserIdentity
		cs := OwnerCopies(e)
		if len(cs) != 2 || cs[0].RecipientAccountID != ownerAcct || cs[1].RecipientAccountID != thirdAcct {
			t.Fatalf("copies for %v", recipients(cs))
		}
		if e.SharedEventID == "" || e.RecipientAccountID != callerAcct || *e.UserIdentity != callerIdentity {
			t.Fatalf("the caller's record changed beyond its sharedEventID: %+v", e)
		}
		ids := map[string]bool{e.EventID: true}
		for _, c := range cs {
			if c.SharedEventID != e.SharedEventID || ids[c.EventID] || c.EventID == "" {
				t.Errorf("copy for %s: eventID %q sharedEventID %q (caller's %q, %q)", c.RecipientAccountID, c.EventID, c.SharedEventID, e.EventID, e.SharedEventID)
			}
			ids[c.EventID] = true
			u := c.UserIdentity
			if u.Type != "AWSAccount" || u.AccountID != callerAcct || u.PrincipalID != callerIdentity.PrincipalID ||
				u.ARN != "" || u.AccessKeyID != "" || u.UserName != "" || u.SessionContext != nil {
				t.Errorf("copy for %s shows the caller as %+v", c.RecipientAccountID, u)
			}
			if c.Username() != "" {
				t.Errorf("copy for %s has user name %q", c.RecipientAccountID, c.Username())
			}
			if c.EventName != e.EventName || c.EventTime != e.EventTime || c.RequestID != e.RequestID || len(c.Resources) != 3 ||
				c.RequestParameters["keyId"] != e.RequestParameters["keyId"] {
				t.Errorf("copy for %s does not describe the call: %+v", c.RecipientAccountID, c)
			}
		}
	})
}

func recipients(es []*Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.RecipientAccountID)
	}
	return out
}

// TestAppendAllTogether writes the records of cross-account calls among
// concurrent single records, with batches of three (so a call's records
// often meet a full batch): every call's records are consecutive in the
// trail, the chain and digests verify, and each account's lookups find its
// own record of the call and no other.
func TestAppendAllTogether(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOptions(dir, "n1")
	o.MaxBatch = 3
	l := openLog(t, o)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				n := g*100 + i
				if g%2 == 0 {
					e := crossEvent(n, at.Add(time.Duration(n)*time.Second), false)
					errs <- l.AppendAll(context.Background(), append([]*Event{e}, OwnerCopies(e)...)...)
				} else {
					errs <- l.Append(context.Background(), testEvent(n, at.Add(time.Duration(n)*time.Second)))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AppendAll(context.Background()); err != nil {
		t.Fatalf("no records: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendAll(context.Background(), testEvent(0, at)); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
	mustVerifyOK(t, dir)

	all := readAll(t, dir)
	if len(all) != 50*3+50 {
		t.Fatalf("%d records, want %d", len(all), 200)
	}
	shared := map[string][]Entry{}
	for _, e := range all {
		if e.Event.SharedEventID != "" {
			shared[e.Event.SharedEventID] = append(shared[e.Event.SharedEventID], e)
		}
	}
	if len(shared) != 50 {
		t.Fatalf("%d shared calls, want 50", len(shared))
	}
	x := NewIndex(dir)
	for id, es := range shared {
		if len(es) != 3 || es[1].Seq != es[0].Seq+1 || es[2].Seq != es[1].Seq+1 {
			t.Fatalf("call %s: %d records, not consecutive", id, len(es))
		}
		for _, e := range es {
			for _, acct := range []string{callerAcct, ownerAcct, thirdAcct} {
				found, _, err := x.Lookup(Query{Account: acct, Key: LookupEventID, Value: e.Event.EventID, Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				mine := acct == e.Event.RecipientAccountID
				if mine && (len(found) != 1 || found[0].Event.SharedEventID != id) || !mine && len(found) != 0 {
					t.Fatalf("account %s looking up the record %s of account %s finds %d", acct, e.Event.EventID, e.Event.RecipientAccountID, len(found))
				}
			}
		}
	}
	// The owner finds the calls on its key by resource name, each with
	// the caller's account and principal, never the caller's access key.
	found, _, err := x.Lookup(Query{Account: ownerAcct, Key: LookupResourceName, Value: "arn:aws:kms:us-east-1:" + ownerAcct + ":key/a", Limit: 100})
	if err != nil || len(found) != 50 {
		t.Fatalf("owner's lookup by its key: %d records, %v", len(found), err)
	}
	var raw map[string]any
	if err := json.Unmarshal(found[0].Raw, &raw); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(raw["userIdentity"]); got != "map[accountId:111122223333 principalId:AIDAEXAMPLE type:AWSAccount]" {
		t.Errorf("owner's record shows the caller as %s", got)
	}
	if f, _, _ := x.Lookup(Query{Account: ownerAcct, Key: LookupAccessKeyID, Value: "AKIAEXAMPLE", Limit: 5}); len(f) != 0 {
		t.Errorf("the owner finds %d records by the caller's access key", len(f))
	}
}
