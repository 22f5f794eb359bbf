package audit

import (
	"context"
	"errors"
	"time"
)

// # Calls that cross accounts
//
// CloudTrail records a call that uses another account's resource (a KMS
// key named by its ARN, a role assumed from another account) in both
// accounts: the caller's record, and one for each account that owns a
// resource of the call, each with its own eventID and recipientAccountId
// and the same sharedEventID. The owner's record names the caller only by
// its account and principal ID (userIdentity type AWSAccount): it keeps
// the call's parameters, resources, outcome and source, not the caller's
// ARN, user name or access key. A call refused for want of permission is
// recorded only in the caller's account, so that no account can write into
// another's history what that account did not let it do.

// Crossing reports whether e names a resource of an account other than its
// recipient whose owner allowed the call (Resource.Allowed): whether the
// call needs OwnerCopies. A resource merely named (a key of another
// account that refused the caller, or that the call failed on before it
// was authorized) does not count: no account can put a call into
// another's history that the other did not allow. Crossing allocates
// nothing, so that a call within one account pays only this loop.
func Crossing(e *Event) bool {
	for i := range e.Resources {
		if foreignAllowed(e, &e.Resources[i]) {
			return true
		}
	}
	return false
}

func foreignAllowed(e *Event, r *Resource) bool {
	return r.Allowed && r.AccountID != "" && r.AccountID != e.RecipientAccountID
}

// OwnerCopies returns the records of e for the other accounts whose
// resources e names and who allowed the call (see Crossing), one per
// account in the order of e.Resources, and sets e.SharedEventID to the ID they share with it. e
// must be the caller's record, complete (its eventID set); its nested
// values are shared with the copies, which must not be modified.
func OwnerCopies(e *Event) []*Event {
	var out []*Event
	for i := range e.Resources {
		a := e.Resources[i].AccountID
		if !foreignAllowed(e, &e.Resources[i]) || hasRecipient(out, a) {
			continue
		}
		if e.SharedEventID == "" {
			e.SharedEventID = NewEventID()
		}
		c := *e
		c.EventID = NewEventID()
		c.RecipientAccountID = a
		c.UserIdentity = ownerIdentity(e.UserIdentity)
		out = append(out, &c)
	}
	return out
}

func hasRecipient(es []*Event, account string) bool {
	for _, e := range es {
		if e.RecipientAccountID == account {
			return true
		}
	}
	return false
}

// ownerIdentity is the userIdentity a resource owner's record shows of a
// caller of another account: the account and the principal, nothing the
// owner could use to name or reach the caller's credentials.
func ownerIdentity(u *UserIdentity) *UserIdentity {
	if u == nil {
		return nil
	}
	return &UserIdentity{Type: "AWSAccount", PrincipalID: u.PrincipalID, AccountID: u.AccountID}
}

// AppendCall writes e, the record of a call, as Append does; if the call
// used another account's resource (Crossing) and was not refused for want
// of permission, it writes the owners' records (OwnerCopies) with it, by
// AppendAll. A call within one account costs what Append costs.
func (l *Log) AppendCall(ctx context.Context, e *Event) error {
	if !Crossing(e) || Refused(e.ErrorCode) {
		return l.Append(ctx, e)
	}
	owners := OwnerCopies(e)
	all := make([]*Event, 0, 1+len(owners))
	return l.AppendAll(ctx, append(append(all, e), owners...)...)
}

// Refused reports whether errorCode refused a call for want of
// permission (KMS's AccessDeniedException, the query APIs' AccessDenied).
// AWS records such a cross-account call only in the caller's account: the
// owner did not let it act, and another account must not be able to fill
// the owner's history with calls it refused.
func Refused(errorCode string) bool {
	return errorCode == "AccessDeniedException" || errorCode == "AccessDenied"
}

// AppendAll writes the records es to the trail together: in one batch,
// consecutive, durable together or not at all (a batch is written with one
// write and rolled back whole). It returns as Append does. The records of
// a call that crossed accounts go through it, so that the owner's record
// is never missing where the caller's was written.
func (l *Log) AppendAll(ctx context.Context, es ...*Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p := l.failed.Load(); p != nil {
		return *p
	}
	if len(es) == 0 {
		return nil
	}
	evs := make([][]byte, len(es))
	for i, e := range es {
		ev, err := l.marshal(e)
		if err != nil {
			return err
		}
		evs[i] = ev
	}
	if len(evs) > l.opts.MaxBatch {
		return errors.New("audit: more records than a batch holds")
	}
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return ErrClosed
	}
	if len(l.open.events)+len(evs) > l.opts.MaxBatch {
		l.full = append(l.full, l.open)
		l.open = newBatch()
	}
	b := l.open
	b.events = append(b.events, evs...)
	n := len(b.events)
	if n == len(evs) {
		b.first = time.Now()
	}
	if n >= l.opts.MaxBatch {
		l.full = append(l.full, b)
		l.open = newBatch()
	}
	kick := n == len(evs) || (l.target > 0 && n >= l.target) || n >= l.opts.MaxBatch
	l.qmu.Unlock()
	return l.await(ctx, b, kick)
}
