package trailapi

import (
	"context"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/wire"
)

// VerificationOperation is a Trent extension of the CloudTrail API (AWS's
// has no equivalent: CloudTrail's log file validation reads digest files
// from S3): the verification state of the trail's digests, what `trent
// audit verify` reports, for the web console.
//
// It is read-only and needs what LookupEvents needs, cloudtrail:LookupEvents
// on "*", so whoever may search the trail may see whether it is intact,
// and nobody else. Its answer names no record, account or file: a state,
// times, counts of digests, signing key IDs and the kinds of problems
// found, all about the node's trail as a whole. The request body is "{}"
// (LookupEvents' members are accepted and ignored); the call is recorded
// like a lookup.
const VerificationOperation = "GetTrailVerification"

// Verification states.
const (
	VerificationVerified = "Verified" // the last check found no problem
	VerificationFailed   = "Failed"   // the last check found problems
	VerificationChecking = "Checking" // no check has finished yet
)

// Verification is GetTrailVerification's response.
type Verification struct {
	Status string `json:"Status"`
	// CheckedAt is when the reported check started.
	CheckedAt *wire.Timestamp `json:"CheckedAt,omitempty"`
	// DigestsUntil is the time of the last digest checked: the trail is
	// proven complete and unchanged up to it.
	DigestsUntil *wire.Timestamp `json:"DigestsUntil,omitempty"`
	Digests      int             `json:"Digests"`
	// SigningKeyIDs are the IDs of the keys whose signatures were checked.
	SigningKeyIDs []string `json:"SigningKeyIds,omitempty"`
	// Problems are the kinds of damage found ("node1: modified"), without
	// file names or record numbers.
	Problems []string `json:"Problems,omitempty"`
	// Running says a newer check is under way.
	Running bool `json:"Running"`
}

// Timestamp returns t as a wire timestamp, nil for the zero time.
func Timestamp(t time.Time) *wire.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &wire.Timestamp{Time: t}
}

func (c *call) runVerification(ctx context.Context) error {
	if c.h.cfg.Verification == nil {
		return awserr.New("OperationNotPermittedException", "This server keeps no audit trail: there are no digests to verify.")
	}
	v, err := c.h.cfg.Verification(ctx)
	if err != nil {
		return err
	}
	c.Out = v
	return nil
}
