package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const trailTarget = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

// TestLookupEventsWire drives the CloudTrail API over the network (the
// fasthttp front, its body limits and routing by target) with raw signed
// requests.
func TestLookupEventsWire(t *testing.T) {
	t.Parallel()
	ep := shared.Endpoint
	sign := signAs(adminAKID, adminSecret, region, "cloudtrail", time.Now())
	padded := func(n int) []byte {
		b := []byte(`{"MaxResults":1,"LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"cloudtrail.amazonaws.com"}]}`)
		return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
	}
	for _, c := range []struct {
		name, op string
		body     []byte
		sign     func(*http.Request, []byte)
		status   int
		code     string
	}{
		{"ok/lookup", trailTarget + "LookupEvents", []byte(`{}`), sign, 200, ""},
		{"ok/20KiB body: over the limit of unknown targets, within the API's", trailTarget + "LookupEvents", padded(20 << 10), sign, 200, ""},
		{"fail/40KiB body", trailTarget + "LookupEvents", padded(40 << 10), sign, 413, "RequestEntityTooLargeException"},
		{"fail/another operation", trailTarget + "CreateTrail", []byte(`{}`), sign, 400, "UnknownOperationException"},
		{"fail/signed for kms", trailTarget + "LookupEvents", []byte(`{}`), signAs(adminAKID, adminSecret, region, "kms", time.Now()), 400, "InvalidSignatureException"},
		{"fail/unsigned", trailTarget + "LookupEvents", []byte(`{}`), nil, 400, "MissingAuthenticationTokenException"},
		{"fail/not JSON", trailTarget + "LookupEvents", []byte(`{"MaxResults":`), sign, 400, "SerializationException"},
		{"fail/MaxResults 0", trailTarget + "LookupEvents", []byte(`{"MaxResults":0}`), sign, 400, "InvalidMaxResultsException"},
		{"fail/unknown attribute", trailTarget + "LookupEvents", []byte(`{"LookupAttributes":[{"AttributeKey":"SourceIp","AttributeValue":"x"}]}`), sign, 400, "InvalidLookupAttributesException"},
		{"fail/empty value", trailTarget + "LookupEvents", []byte(`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":""}]}`), sign, 400, "InvalidLookupAttributesException"},
	} {
		r := rawCall(t, ep, c.op, c.body, c.sign)
		if r.Status != c.status || r.ErrorType != c.code {
			t.Errorf("%s: %d %s %q, want %d %s", c.name, r.Status, r.ErrorType, r.Message, c.status, c.code)
		}
	}
	// The KMS API is unchanged beside it.
	if r := rawCall(t, ep, "ListKeys", []byte(`{}`), signAs(adminAKID, adminSecret, region, "kms", time.Now())); r.Status != 200 {
		t.Errorf("ListKeys: %d %s", r.Status, r.ErrorType)
	}
	// The lookups above are in the trail, newest first, as the account's
	// root user.
	r := rawCall(t, ep, trailTarget+"LookupEvents", []byte(`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"LookupEvents"}],"MaxResults":50}`), sign)
	var out struct {
		Events []struct {
			EventName, Username, EventSource, ReadOnly, CloudTrailEvent string
			EventTime                                                   float64
		}
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || r.Status != 200 {
		t.Fatalf("lookup: %d %v %s", r.Status, err, r.Body)
	}
	if len(out.Events) < 5 {
		t.Fatalf("%d LookupEvents records, want the calls above", len(out.Events))
	}
	for i, e := range out.Events {
		if e.EventSource != "cloudtrail.amazonaws.com" || e.ReadOnly != "true" || e.Username != "root" || !strings.Contains(e.CloudTrailEvent, `"eventName":"LookupEvents"`) {
			t.Errorf("event %d: %+v", i, e)
		}
		if i > 0 && e.EventTime > out.Events[i-1].EventTime {
			t.Errorf("event %d is newer than the one before it", i)
		}
	}
}
