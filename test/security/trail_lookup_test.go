package security

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CloudTrail LookupEvents API (issue 19) over calls that cross
// accounts, and over a trail whose clock was set back.

// tlEvent is what these tests read of an event LookupEvents returns: the
// CloudTrailEvent string, decoded.
type tlEvent struct {
	EventID            string `json:"eventID"`
	SharedEventID      string `json:"sharedEventID"`
	EventName          string `json:"eventName"`
	RecipientAccountID string `json:"recipientAccountId"`
	RequestID          string `json:"requestID"`
	ErrorCode          string `json:"errorCode"`
	UserIdentity       struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	RequestParameters map[string]any `json:"requestParameters"`
	Resources         []struct {
		AccountID string `json:"accountId"`
		ARN       string `json:"ARN"`
	} `json:"resources"`
	raw string
}

// tlLookup runs LookupEvents as c with the attribute key = value (none if
// key is ""), paging through every result, and returns the events.
func tlLookup(t *testing.T, s *Server, c Creds, key, value string) []tlEvent {
	t.Helper()
	var all []tlEvent
	token := ""
	for page := 0; ; page++ {
		if page > 50 {
			t.Fatal("LookupEvents: paging does not end")
		}
		req := map[string]any{"MaxResults": 50}
		if key != "" {
			req["LookupAttributes"] = []map[string]string{{"AttributeKey": key, "AttributeValue": value}}
		}
		if token != "" {
			req["NextToken"] = token
		}
		body, _ := json.Marshal(req)
		r := redATrail(t, s, c, "LookupEvents", string(body))
		if r.Status != 200 {
			t.Fatalf("LookupEvents %s=%s: %d %s %s", key, value, r.Status, r.ErrorType, r.Message)
		}
		var out struct {
			Events    []struct{ CloudTrailEvent string }
			NextToken string
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			var ev tlEvent
			if err := json.Unmarshal([]byte(e.CloudTrailEvent), &ev); err != nil {
				t.Fatalf("CloudTrailEvent: %v in %s", err, e.CloudTrailEvent)
			}
			ev.raw = e.CloudTrailEvent
			all = append(all, ev)
		}
		if token = out.NextToken; token == "" {
			return all
		}
	}
}

// tlFromAccount returns the events of es made by a caller of account acct.
func tlFromAccount(es []tlEvent, acct string) []tlEvent {
	var out []tlEvent
	for _, e := range es {
		if e.UserIdentity.AccountID == acct {
			out = append(out, e)
		}
	}
	return out
}

// TestTrailCrossAccountCallsInBothHistories: a call of account B on account
// A's key (by key ARN, as DestinationKeyId of a ReEncrypt, creating a grant
// on it) and B's AssumeRole of A's role are in both accounts' histories,
// as CloudTrail records them: each account's copy has its own eventID and
// its own recipientAccountId, both share one sharedEventID; A's copy names
// the caller by account and principal ID only (type AWSAccount: no ARN,
// user name or access key of B's), keeps the request's parameters and
// resources; neither account can look up the other's copy; the trail with
// the extra records verifies.
func TestTrailCrossAccountCallsInBothHistories(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"}})
	other := isoCreateAccount(t, s, isoOther)
	pol := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + isoOther + `:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:CreateGrant"],"Resource":"*"}]}`
	keyID := s.CreateKey(t, Admin, map[string]any{"Policy": pol})
	keyARN := "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
	own := s.CreateKey(t, other, nil) // B's own key
	ownARN := "arn:aws:kms:" + region + ":" + isoOther + ":key/" + own

	var enc struct{ CiphertextBlob string }
	isoMustCall(t, s, other, "Encrypt", map[string]any{"KeyId": keyARN, "Plaintext": base64.StdEncoding.EncodeToString([]byte("x")),
		"EncryptionContext": map[string]string{"purpose": "tl-cross"}}, &enc)
	var ownEnc struct{ CiphertextBlob string }
	isoMustCall(t, s, other, "Encrypt", map[string]any{"KeyId": own, "Plaintext": base64.StdEncoding.EncodeToString([]byte("y"))}, &ownEnc)
	isoMustCall(t, s, other, "ReEncrypt", map[string]any{"CiphertextBlob": ownEnc.CiphertextBlob, "DestinationKeyId": keyARN}, nil)
	isoMustCall(t, s, other, "CreateGrant", map[string]any{"KeyId": keyARN, "GranteePrincipal": "arn:aws:iam::" + isoOther + ":root",
		"Operations": []string{"Decrypt"}}, nil)
	// A call of B within B: nothing in A's history.
	isoMustCall(t, s, other, "DescribeKey", map[string]any{"KeyId": own}, nil)
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "tl-shared", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+isoOther+`:root"},"Action":"sts:AssumeRole"}]}`)
	roleARN := "arn:aws:iam::" + account + ":role/tl-shared"
	s.MustQuery(t, other, "sts", "Action", "AssumeRole", "RoleArn", roleARN, "RoleSessionName", "tl-x")

	mine := tlFromAccount(tlLookup(t, s, Admin, "ResourceName", keyARN), isoOther)
	names := map[string]tlEvent{}
	for _, e := range mine {
		names[e.EventName] = e
	}
	for _, want := range []string{"Encrypt", "ReEncrypt", "CreateGrant"} {
		if _, ok := names[want]; !ok {
			t.Errorf("A's history of its key lacks B's %s: has %v", want, mine)
		}
	}
	roles := tlFromAccount(tlLookup(t, s, Admin, "ResourceName", roleARN), isoOther)
	if len(roles) != 1 || roles[0].EventName != "AssumeRole" {
		t.Fatalf("A's history of its role: %+v", roles)
	}
	names["AssumeRole"] = roles[0]
	if e := names["Encrypt"]; e.RequestParameters["keyId"] != keyARN || !strings.Contains(e.raw, `"purpose":"tl-cross"`) {
		t.Errorf("A's copy of the Encrypt lost its parameters: %s", e.raw)
	}
	if e := names["ReEncrypt"]; len(e.Resources) != 2 || !strings.Contains(e.raw, ownARN) {
		t.Errorf("A's copy of the ReEncrypt does not name both keys: %s", e.raw)
	}
	for name, e := range names {
		u := e.UserIdentity
		if e.RecipientAccountID != account || e.SharedEventID == "" || e.SharedEventID == e.EventID ||
			u.Type != "AWSAccount" || u.AccountID != isoOther || u.PrincipalID == "" || u.ARN != "" || u.AccessKeyID != "" || u.UserName != "" ||
			strings.Contains(e.raw, other.AKID) {
			t.Errorf("A's copy of B's %s: %s", name, e.raw)
		}
		// B's copy: same call, own event ID, the same shared ID.
		bs := tlLookup(t, s, other, "EventName", name)
		var b *tlEvent
		for i := range bs {
			if bs[i].SharedEventID == e.SharedEventID {
				b = &bs[i]
			}
		}
		if b == nil || b.EventID == e.EventID || b.RecipientAccountID != isoOther || b.RequestID != e.RequestID ||
			b.UserIdentity.AccessKeyID != other.AKID {
			t.Errorf("B's copy of its %s (sharedEventID %s): %+v", name, e.SharedEventID, b)
			continue
		}
		// Neither account finds the other's copy by its event ID.
		if got := tlLookup(t, s, other, "EventId", e.EventID); len(got) != 0 {
			t.Errorf("B finds A's copy of its %s: %s", name, got[0].raw)
		}
		if got := tlLookup(t, s, Admin, "EventId", b.EventID); len(got) != 0 {
			t.Errorf("A finds B's copy of its %s: %s", name, got[0].raw)
		}
	}
	for _, e := range tlFromAccount(tlLookup(t, s, Admin, "", ""), isoOther) {
		if e.EventName == "DescribeKey" || e.SharedEventID == "" {
			t.Errorf("A's history has a call of B that did not touch A's resources: %s", e.raw)
		}
	}
	// A same-account call has no sharedEventID.
	for _, e := range tlLookup(t, s, other, "EventName", "DescribeKey") {
		if e.SharedEventID != "" {
			t.Errorf("a call within one account has a sharedEventID: %s", e.raw)
		}
	}
	s.Stop(t)
	pub := trustedPublicKey(t, filepath.Join(s.DataDir, "audit"))
	if out, err := Trent(t, nil, "audit", "verify", "--data-dir", s.DataDir, "--public-key", pub, "--require-digests"); err != nil {
		t.Fatalf("audit verify with cross-account records: %v\n%s", err, out)
	}
}

// TestTrailDeniedCrossAccountCallsNotInOwnersHistory: a call of account B
// on account A's key or role that A did not allow is recorded only in B's
// history, as AWS does: B cannot fill A's history with calls A refused,
// whatever it names (A's key by ARN, a key of A that does not exist, B's
// own key under A's account, a disabled key, a ciphertext forged to name
// A's key so that the call fails on it before authorization, a role that
// does not trust B), and B learns nothing of A's events.
func TestTrailDeniedCrossAccountCallsNotInOwnersHistory(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"}})
	other := isoCreateAccount(t, s, isoOther)
	keyID := s.CreateKey(t, Admin, nil) // the default policy: account A only
	keyARN := "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
	var enc struct{ CiphertextBlob string }
	isoMustCall(t, s, Admin, "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString([]byte("x"))}, &enc)
	disabled := s.CreateKey(t, Admin, nil)
	isoMustCall(t, s, Admin, "DisableKey", map[string]any{"KeyId": disabled}, nil)
	own := s.CreateKey(t, other, nil)
	// A ciphertext of B's own key, its header changed to name A's RSA
	// key: Decrypt finds A's key, and fails on it before any authorization
	// (not a symmetric key). Such a call must not reach A's history.
	rsa := s.CreateKey(t, Admin, map[string]any{"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"})
	var ownEnc struct{ CiphertextBlob string }
	isoMustCall(t, s, other, "Encrypt", map[string]any{"KeyId": own, "Plaintext": base64.StdEncoding.EncodeToString([]byte("x"))}, &ownEnc)
	forged, _ := base64.StdEncoding.DecodeString(ownEnc.CiphertextBlob)
	rsaID, err := hex.DecodeString(strings.ReplaceAll(rsa, "-", ""))
	if err != nil || len(forged) < 18 || forged[0] != 1 || forged[1] != 0 {
		t.Fatalf("ciphertext layout: %x, key ID %s", forged[:min(len(forged), 18)], rsa)
	}
	copy(forged[2:18], rsaID)
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "tl-private", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:root"},"Action":"sts:AssumeRole"}]}`)
	pt := base64.StdEncoding.EncodeToString([]byte("x"))
	attempts := []struct {
		op   string
		body map[string]any
	}{
		{"Encrypt", map[string]any{"KeyId": keyARN, "Plaintext": pt}},
		{"Decrypt", map[string]any{"CiphertextBlob": enc.CiphertextBlob}},
		{"Decrypt", map[string]any{"CiphertextBlob": enc.CiphertextBlob, "KeyId": keyARN}},
		{"Decrypt", map[string]any{"CiphertextBlob": base64.StdEncoding.EncodeToString(forged)}},
		{"ReEncrypt", map[string]any{"CiphertextBlob": base64.StdEncoding.EncodeToString(forged), "DestinationKeyId": own}},
		{"DescribeKey", map[string]any{"KeyId": keyARN}},
		{"GenerateDataKey", map[string]any{"KeyId": keyARN, "KeySpec": "AES_256"}},
		{"CreateGrant", map[string]any{"KeyId": keyARN, "GranteePrincipal": "arn:aws:iam::" + isoOther + ":root", "Operations": []string{"Decrypt"}}},
		{"ReEncrypt", map[string]any{"CiphertextBlob": enc.CiphertextBlob, "DestinationKeyId": own}},
		{"Encrypt", map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":key/" + disabled, "Plaintext": pt}},
		{"Encrypt", map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":key/00000000-0000-4000-8000-000000000000", "Plaintext": pt}},
		{"Encrypt", map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":key/" + own, "Plaintext": pt}},
		{"Encrypt", map[string]any{"KeyId": "arn:aws:kms:" + region + ":" + account + ":alias/aws/ebs", "Plaintext": pt}},
		{"GetKeyPolicy", map[string]any{"KeyId": keyARN, "PolicyName": "default"}},
		{"ScheduleKeyDeletion", map[string]any{"KeyId": keyARN, "PendingWindowInDays": 7}},
	}
	for _, a := range attempts {
		if r := s.Call(t, other, a.op, a.body); r.Status == 200 {
			t.Fatalf("B's %s %v succeeded", a.op, a.body)
		}
	}
	for _, r := range []string{"arn:aws:iam::" + account + ":role/tl-private", "arn:aws:iam::" + account + ":role/tl-none"} {
		if status, body := s.Query(t, other, "sts", "Action", "AssumeRole", "RoleArn", r, "RoleSessionName", "tl-x"); status == 200 {
			t.Fatalf("B assumed %s: %s", r, body)
		}
	}
	if got := tlFromAccount(tlLookup(t, s, Admin, "", ""), isoOther); len(got) != 0 {
		for _, e := range got {
			t.Errorf("A's history has B's refused %s: %s", e.EventName, e.raw)
		}
	}
	// B's history has its attempts, and nothing of A's.
	bs := tlLookup(t, s, other, "", "")
	failed := 0
	for _, e := range bs {
		if e.RecipientAccountID != isoOther || e.UserIdentity.AccountID != isoOther {
			t.Errorf("B's history shows another account's event: %s", e.raw)
		}
		if e.ErrorCode != "" {
			failed++
		}
	}
	if failed < len(attempts) {
		t.Errorf("B's history has %d failed calls, want at least %d", failed, len(attempts))
	}
}

// TestTrailLookupTimeRangeAfterClockStep: a node's clock ran 8 days ahead
// while a scheduled deletion ran, then was set right. LookupEvents with a
// StartTime/EndTime around now finds the calls made now: the index no
// longer orders them after the records of the clock's future.
func TestTrailLookupTimeRangeAfterClockStep(t *testing.T) {
	clock := filepath.Join(t.TempDir(), "clock")
	if err := os.WriteFile(clock, []byte("0s"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, Opts{Args: []string{"--metrics-listen", "off"},
		Env: []string{"TRENT_TEST_CLOCK_FILE=" + clock, "TRENT_TEST_SCHEDULER_INTERVAL=100ms"}})
	victim := s.CreateKey(t, Admin, nil)
	if r := s.Call(t, Admin, "ScheduleKeyDeletion", map[string]any{"KeyId": victim, "PendingWindowInDays": 7}); r.Status != 200 {
		t.Fatalf("ScheduleKeyDeletion: %d %s", r.Status, r.Body)
	}
	if err := os.WriteFile(clock, []byte("192h"), 0o600); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 20*time.Second, func() error {
		r := redATrail(t, s, Admin, "LookupEvents", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"DeleteKey"}]}`)
		if !strings.Contains(string(r.Body), victim) {
			return fmt.Errorf("no DeleteKey event yet: %d %.300s", r.Status, r.Body)
		}
		return nil
	})
	if err := os.WriteFile(clock, []byte("0s"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	now := time.Now()
	fresh := s.CreateKey(t, Admin, nil)
	for _, window := range [][2]time.Time{
		{now.Add(-time.Hour), now.Add(time.Hour)},
		{now.Add(-time.Minute), now.Add(time.Minute)},
		{time.Time{}, now.Add(time.Hour)}, // EndTime alone
	} {
		req := map[string]any{"LookupAttributes": []map[string]string{{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}},
			"EndTime": window[1].Unix()}
		if !window[0].IsZero() {
			req["StartTime"] = window[0].Unix()
		}
		body, _ := json.Marshal(req)
		r := redATrail(t, s, Admin, "LookupEvents", string(body))
		if r.Status != 200 {
			t.Fatalf("LookupEvents: %d %s %s", r.Status, r.ErrorType, r.Message)
		}
		if !strings.Contains(string(r.Body), fresh) {
			t.Errorf("[%v, %v]: the CreateKey of key %s, made in the window, is not in the answer: %.500s", window[0], window[1], fresh, r.Body)
		}
	}
	// The DeleteKey of the clock's future is outside a window of now.
	body := fmt.Sprintf(`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"DeleteKey"}],"StartTime":%d,"EndTime":%d}`,
		now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix())
	if r := redATrail(t, s, Admin, "LookupEvents", body); r.Status != 200 || strings.Contains(string(r.Body), victim) {
		t.Errorf("a window of now shows the DeleteKey made 8 days ahead: %d %.300s", r.Status, r.Body)
	}
}
