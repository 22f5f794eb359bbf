package e2e

import (
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/node"
)

const rootARN = "arn:aws:iam::" + account + ":root"

// requestIDOf returns the x-amzn-RequestId of an SDK call: from the
// output's metadata on success, from the response error on failure.
func requestIDOf(t testing.TB, md middleware.Metadata, err error) string {
	t.Helper()
	if err != nil {
		var re *awshttp.ResponseError
		if !errors.As(err, &re) {
			t.Fatalf("no response error in %v", err)
		}
		if re.ServiceRequestID() == "" {
			t.Fatalf("error %v has no request ID", err)
		}
		return re.ServiceRequestID()
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(md)
	if !ok || id == "" {
		t.Fatal("response has no request ID")
	}
	return id
}

// trailOf reads every record of the trail in dataDir/audit, by request ID.
func trailOf(t testing.TB, dataDir string) (byReq map[string][]audit.Entry, all []audit.Entry) {
	t.Helper()
	byReq = map[string][]audit.Entry{}
	err := audit.Read(filepath.Join(dataDir, "audit"), audit.Filter{}, func(e audit.Entry) error {
		all = append(all, e)
		if e.Event.RequestID != "" {
			byReq[e.Event.RequestID] = append(byReq[e.Event.RequestID], e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read trail: %v", err)
	}
	return byReq, all
}

// noSecretsIn fails the test if any file under dir contains one of secrets,
// raw, hex or base64 (standard and URL alphabets) encoded. Every window of
// every file is looked up in a set per form length, so thousands of secrets
// cost no more than a few.
func noSecretsIn(t testing.TB, dir string, secrets [][]byte) {
	t.Helper()
	for _, h := range findSecrets(t, dir, secrets) {
		t.Errorf("trail file contains a secret: %s", h)
	}
}

// findSecrets returns where the forms of secrets occur in files under dir
// (at most one hit per file), as "path: secret #i at offset o".
func findSecrets(t testing.TB, dir string, secrets [][]byte) []string {
	t.Helper()
	var hits []string
	byLen := map[int]map[string]int{} // form length -> form -> secret index
	for i, s := range secrets {
		for _, f := range encodings(s) {
			if byLen[len(f)] == nil {
				byLen[len(f)] = map[string]int{}
			}
			byLen[len(f)][string(f)] = i
		}
	}
	files := eachFile(t, dir, func(path string, data []byte) {
		for n, set := range byLen {
			for i := 0; i+n <= len(data); i++ {
				if j, ok := set[string(data[i:i+n])]; ok {
					hits = append(hits, fmt.Sprintf("%s: secret #%d at offset %d", path, j, i))
					return
				}
			}
		}
	})
	if files == 0 {
		t.Fatalf("no trail files under %s", dir)
	}
	return hits
}

// auditCase is one call whose record TestAuditRecords checks.
type auditCase struct {
	name     string
	reqID    string
	event    string
	readOnly bool
	crypto   bool   // responseElements must be null
	key      string // ARN expected in resources[0] ("" = not checked)
	key2     string // ARN expected in resources[1] ("" = not checked)
	errCode  string // "" for success
	idType   string // userIdentity.type ("" = no caller identified)
	idARN    string
	akid     string
	params   func(t *testing.T, p map[string]any)
}

// TestAuditRecords checks that every operation family, a denied call, a
// failed call, a malformed request and an unauthenticated one each leave
// exactly one CloudTrail-shaped record with the right fields.
func TestAuditRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir, node.Options{})
	ep := n.Endpoint
	c := newClient(ep)
	ctx := ctxT(t)
	var secrets [][]byte
	var cases []auditCase
	add := func(ac auditCase) { cases = append(cases, ac) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("audit")})
	must(err)
	arn := *ck.KeyMetadata.Arn
	add(auditCase{name: "ok/CreateKey", reqID: requestIDOf(t, ck.ResultMetadata, nil), event: "CreateKey", key: arn})

	dk, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &arn})
	must(err)
	add(auditCase{name: "ok/DescribeKey", reqID: requestIDOf(t, dk.ResultMetadata, nil), event: "DescribeKey", readOnly: true, key: arn})

	ectx := map[string]string{"Department": "Engineering"}
	pt := randBytes(t, 48)
	secrets = append(secrets, pt)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: pt, EncryptionContext: ectx})
	must(err)
	secrets = append(secrets, enc.CiphertextBlob)
	wantCtx := func(t *testing.T, p map[string]any) {
		if p["keyId"] != arn {
			t.Errorf("requestParameters.keyId = %v, want %s", p["keyId"], arn)
		}
		ec, _ := p["encryptionContext"].(map[string]any)
		if ec["Department"] != "Engineering" || len(ec) != 1 {
			t.Errorf("requestParameters.encryptionContext = %v, want %v", p["encryptionContext"], ectx)
		}
	}
	add(auditCase{name: "ok/Encrypt", reqID: requestIDOf(t, enc.ResultMetadata, nil), event: "Encrypt", readOnly: true, crypto: true, key: arn, params: wantCtx})

	dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: &arn, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ectx})
	must(err)
	add(auditCase{name: "ok/Decrypt", reqID: requestIDOf(t, dec.ResultMetadata, nil), event: "Decrypt", readOnly: true, crypto: true, key: arn,
		params: func(t *testing.T, p map[string]any) {
			wantCtx(t, p)
			if p["encryptionAlgorithm"] != "SYMMETRIC_DEFAULT" {
				t.Errorf("Decrypt requestParameters.encryptionAlgorithm = %v, want SYMMETRIC_DEFAULT", p["encryptionAlgorithm"])
			}
		}})

	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &arn, KeySpec: types.DataKeySpecAes256})
	must(err)
	secrets = append(secrets, gdk.Plaintext, gdk.CiphertextBlob)
	add(auditCase{name: "ok/GenerateDataKey", reqID: requestIDOf(t, gdk.ResultMetadata, nil), event: "GenerateDataKey", readOnly: true, crypto: true, key: arn,
		params: func(t *testing.T, p map[string]any) {
			if p["keySpec"] != "AES_256" {
				t.Errorf("requestParameters.keySpec = %v", p["keySpec"])
			}
		}})

	ck2, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	must(err)
	arn2 := *ck2.KeyMetadata.Arn
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ectx, DestinationKeyId: &arn2})
	must(err)
	secrets = append(secrets, re.CiphertextBlob)
	add(auditCase{name: "ok/ReEncrypt", reqID: requestIDOf(t, re.ResultMetadata, nil), event: "ReEncrypt", readOnly: true, crypto: true, key: arn, key2: arn2})

	sk, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	must(err)
	skARN := *sk.KeyMetadata.Arn
	msg := randBytes(t, 40)
	secrets = append(secrets, msg)
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: &skARN, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	must(err)
	secrets = append(secrets, sig.Signature)
	add(auditCase{name: "ok/Sign", reqID: requestIDOf(t, sig.ResultMetadata, nil), event: "Sign", readOnly: true, crypto: true, key: skARN})

	hk, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	must(err)
	hkARN := *hk.KeyMetadata.Arn
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: &hkARN, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	must(err)
	secrets = append(secrets, mac.Mac)
	add(auditCase{name: "ok/GenerateMac", reqID: requestIDOf(t, mac.ResultMetadata, nil), event: "GenerateMac", readOnly: true, crypto: true, key: hkARN})

	alias := uniq("alias/audit")
	ca, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: &arn})
	must(err)
	add(auditCase{name: "ok/CreateAlias", reqID: requestIDOf(t, ca.ResultMetadata, nil), event: "CreateAlias", key: arn})

	tr, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: &arn, Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("audit")}}})
	must(err)
	add(auditCase{name: "ok/TagResource", reqID: requestIDOf(t, tr.ResultMetadata, nil), event: "TagResource", key: arn})

	pp, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &arn, Policy: aws.String(customPolicy)})
	must(err)
	add(auditCase{name: "ok/PutKeyPolicy", reqID: requestIDOf(t, pp.ResultMetadata, nil), event: "PutKeyPolicy", key: arn})

	er, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &arn})
	must(err)
	add(auditCase{name: "ok/EnableKeyRotation", reqID: requestIDOf(t, er.ResultMetadata, nil), event: "EnableKeyRotation", key: arn})

	// A user with an access key and no permission on any key.
	iamAdmin(t, ep, "Action", "CreateUser", "UserName", "auditor")
	var ak struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	must(xml.Unmarshal(iamAdmin(t, ep, "Action", "CreateAccessKey", "UserName", "auditor"), &ak))
	secrets = append(secrets, []byte(ak.Secret), []byte(adminSecret))
	userARN := "arn:aws:iam::" + account + ":user/auditor"

	cg, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &arn, GranteePrincipal: &userARN, Operations: []types.GrantOperation{types.GrantOperationDescribeKey}})
	must(err)
	add(auditCase{name: "ok/CreateGrant", reqID: requestIDOf(t, cg.ResultMetadata, nil), event: "CreateGrant", key: arn})

	dkey, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	must(err)
	sd, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: dkey.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})
	must(err)
	add(auditCase{name: "ok/ScheduleKeyDeletion", reqID: requestIDOf(t, sd.ResultMetadata, nil), event: "ScheduleKeyDeletion", key: *dkey.KeyMetadata.Arn})

	user := newClient(ep, withCredentials(ak.ID, ak.Secret))
	denyPT := randBytes(t, 40)
	secrets = append(secrets, denyPT)
	_, err = user.Encrypt(ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: denyPT})
	wantAPIError(t, err, "AccessDeniedException", anyMessage)
	add(auditCase{name: "fail/denied", reqID: requestIDOf(t, middleware.Metadata{}, err), event: "Encrypt", readOnly: true, crypto: true, key: arn,
		errCode: "AccessDeniedException", idType: "IAMUser", idARN: userARN, akid: ak.ID})

	missing := keyARN("0b7f0e1c-3a3d-4b7e-9e0e-000000000000")
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &missing})
	wantAPIError(t, err, "NotFoundException", anyMessage)
	add(auditCase{name: "fail/not-found", reqID: requestIDOf(t, middleware.Metadata{}, err), event: "DescribeKey", readOnly: true, errCode: "NotFoundException"})

	bad := rawCall(t, ep, "Encrypt", []byte(`{"KeyId":`), adminSigner())
	if bad.ErrorType != "SerializationException" {
		t.Fatalf("malformed request: %d %s %q", bad.Status, bad.ErrorType, bad.Message)
	}
	add(auditCase{name: "fail/malformed", reqID: bad.Header.Get("X-Amzn-Requestid"), event: "Encrypt", readOnly: true, crypto: true, errCode: "SerializationException"})

	unauth := rawCall(t, ep, "ListKeys", []byte(`{}`), signAs(adminAKID, "not-the-secret", region, "kms", time.Now()))
	if unauth.Status != 400 || unauth.ErrorType == "" {
		t.Fatalf("bad signature: %d %s %q", unauth.Status, unauth.ErrorType, unauth.Message)
	}
	add(auditCase{name: "fail/bad-signature", reqID: unauth.Header.Get("X-Amzn-Requestid"), event: "ListKeys", readOnly: true,
		errCode: unauth.ErrorType, idType: "-", akid: adminAKID})

	byReq, _ := trailOf(t, dir)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := byReq[tc.reqID]
			if tc.reqID == "" || len(recs) != 1 {
				t.Fatalf("request %q has %d records, want 1", tc.reqID, len(recs))
			}
			e := recs[0].Event
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(recs[0].Raw, &raw); err != nil {
				t.Fatal(err)
			}
			checkAPIRecord(t, tc, e, raw)
		})
	}
	noSecretsIn(t, filepath.Join(dir, "audit"), secrets)
	// The scan finds what is there: the encryption context value and the
	// key ID are logged in clear.
	if hits := findSecrets(t, filepath.Join(dir, "audit"), [][]byte{[]byte("Engineering"), []byte(*ck.KeyMetadata.KeyId)}); len(hits) == 0 {
		t.Error("secret scan does not find the logged encryption context or key ID")
	}
}

func checkAPIRecord(t *testing.T, tc auditCase, e *audit.Event, raw map[string]json.RawMessage) {
	if e.EventSource != "kms.amazonaws.com" || e.EventName != tc.event || e.AWSRegion != region {
		t.Errorf("source/name/region = %s/%s/%s, want kms.amazonaws.com/%s/%s", e.EventSource, e.EventName, e.AWSRegion, tc.event, region)
	}
	if e.EventType != "AwsApiCall" || !e.ManagementEvent || e.EventCategory != "Management" || e.EventVersion == "" || e.EventID == "" {
		t.Errorf("eventType %q managementEvent %v eventCategory %q eventVersion %q eventID %q", e.EventType, e.ManagementEvent, e.EventCategory, e.EventVersion, e.EventID)
	}
	if _, err := time.Parse(time.RFC3339, e.EventTime); err != nil {
		t.Errorf("eventTime %q: %v", e.EventTime, err)
	}
	if e.ReadOnly != tc.readOnly {
		t.Errorf("readOnly = %v, want %v", e.ReadOnly, tc.readOnly)
	}
	// Identity: the administrator unless the case says otherwise.
	idType, idARN, akid := tc.idType, tc.idARN, tc.akid
	if idType == "" {
		idType, idARN, akid = "Root", rootARN, adminAKID
	}
	u := e.UserIdentity
	switch {
	case u == nil:
		t.Errorf("no userIdentity")
	case idType == "-": // not authenticated: only the access key ID claimed
		if u.AccessKeyID != akid || u.ARN != "" {
			t.Errorf("unauthenticated userIdentity = %+v, want only accessKeyId %s", u, akid)
		}
	default:
		if u.Type != idType || u.ARN != idARN || u.AccountID != account || u.AccessKeyID != akid {
			t.Errorf("userIdentity = %+v, want type %s arn %s accountId %s accessKeyId %s", u, idType, idARN, account, akid)
		}
		if e.RecipientAccountID != account {
			t.Errorf("recipientAccountId = %q, want %s", e.RecipientAccountID, account)
		}
	}
	if tc.key != "" {
		if len(e.Resources) == 0 {
			t.Errorf("no resources, want %s", tc.key)
		} else if r := e.Resources[0]; r.Type != "AWS::KMS::Key" || r.ARN != tc.key || r.AccountID != account {
			t.Errorf("resources[0] = %+v, want {%s AWS::KMS::Key %s}", r, account, tc.key)
		}
	}
	if tc.key2 != "" && (len(e.Resources) != 2 || e.Resources[1].ARN != tc.key2) {
		t.Errorf("resources = %+v, want [%s %s]", e.Resources, tc.key, tc.key2)
	}
	for _, k := range []string{"plaintext", "Plaintext", "ciphertextBlob", "CiphertextBlob", "message", "signature", "mac"} {
		if _, ok := e.RequestParameters[k]; ok {
			t.Errorf("requestParameters has %s", k)
		}
	}
	if tc.params != nil {
		tc.params(t, e.RequestParameters)
	}
	if tc.crypto && string(raw["responseElements"]) != "null" {
		t.Errorf("responseElements = %s, want null", raw["responseElements"])
	}
	if tc.errCode == "" {
		if e.ErrorCode != "" || e.ErrorMessage != "" {
			t.Errorf("success has errorCode %q errorMessage %q", e.ErrorCode, e.ErrorMessage)
		}
	} else if e.ErrorCode != tc.errCode || e.ErrorMessage == "" {
		t.Errorf("errorCode %q errorMessage %q, want %s and a message", e.ErrorCode, e.ErrorMessage, tc.errCode)
	}
}

// TestAuditServiceEvent checks that the end of a deletion waiting period
// writes exactly one AwsServiceEvent DeleteKey record for the key.
func TestAuditServiceEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := &clock{}
	n := startNode(t, dir, node.Options{Now: clk.Now, Jobs: func(c *job.Config) { c.SchedulerInterval = 20 * time.Millisecond }})
	c := newClient(n.Endpoint, withClock(clk.Now))
	doomed, other := createKey(t, c, nil), createKey(t, c, nil)
	sched, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: doomed.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: other.KeyId, PendingWindowInDays: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(sched.DeletionDate.Sub(clk.Now()) + time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	var found []*audit.Event
	for {
		_, all := trailOf(t, dir)
		found = found[:0]
		for _, e := range all {
			if e.Event.EventType == "AwsServiceEvent" {
				found = append(found, e.Event)
			}
		}
		if len(found) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Give a duplicate (a second scheduler tick) the chance to appear.
	time.Sleep(100 * time.Millisecond)
	_, all := trailOf(t, dir)
	found = found[:0]
	for _, e := range all {
		if e.Event.EventType == "AwsServiceEvent" {
			found = append(found, e.Event)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d service events, want 1 (DeleteKey of %s): %+v", len(found), *doomed.Arn, found)
	}
	e := found[0]
	if e.EventName != "DeleteKey" || e.EventSource != "kms.amazonaws.com" || e.AWSRegion != region ||
		e.ReadOnly || !e.ManagementEvent || e.EventCategory != "Management" || e.RecipientAccountID != account || e.RequestID != "" {
		t.Errorf("service event = %+v", e)
	}
	if len(e.Resources) != 1 || e.Resources[0].ARN != *doomed.Arn || e.Resources[0].Type != "AWS::KMS::Key" || e.Resources[0].AccountID != account {
		t.Errorf("service event resources = %+v, want %s", e.Resources, *doomed.Arn)
	}
	if e.UserIdentity == nil || e.UserIdentity.InvokedBy != "kms.amazonaws.com" || e.UserIdentity.AccountID != account {
		t.Errorf("service event userIdentity = %+v", e.UserIdentity)
	}
	if e.ServiceEventDetails["keyId"] != *doomed.KeyId {
		t.Errorf("serviceEventDetails = %v, want keyId %s", e.ServiceEventDetails, *doomed.KeyId)
	}
	if want := clk.Now().UTC(); e.EventTime < sched.DeletionDate.UTC().Format("2006-01-02T15:04:05Z") || e.EventTime > want.Format("2006-01-02T15:04:05Z") {
		t.Errorf("service event time %s not in [deletion date %s, now %s]", e.EventTime, sched.DeletionDate.UTC(), want)
	}
}

// TestAuditKill9 kills a loaded trent with SIGKILL and checks that every
// call that got a success response has its record after the restart, that
// `trent audit verify` accepts the trail and that no plaintext or data key
// is in it.
func TestAuditKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t0 := time.Now()
	trentBinary(t)
	t.Logf("build %v", time.Since(t0))
	ch := startChild(t, dir)
	t.Logf("start %v", time.Since(t0))
	c := newClient(ch.endpoint)
	key := createKey(t, c, nil)

	var (
		mu      sync.Mutex
		acked   []string
		secrets [][]byte
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	ctx := ctxT(t)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var id string
				var secret []byte
				if i%2 == 0 {
					pt := make([]byte, 32)
					rand.Read(pt)
					out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: pt, EncryptionContext: map[string]string{"g": string(rune('a' + g))}})
					if err != nil {
						return // the server is gone
					}
					id, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					secret = pt
				} else {
					out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, NumberOfBytes: aws.Int32(32)})
					if err != nil {
						return
					}
					id, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					secret = out.Plaintext
				}
				mu.Lock()
				acked = append(acked, id)
				secrets = append(secrets, secret)
				mu.Unlock()
			}
		}(g)
	}
	time.Sleep(1500 * time.Millisecond)
	ch.kill(t)
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d calls acknowledged before the kill", len(acked))
	}

	t.Logf("killed %v", time.Since(t0))
	ch2 := startChild(t, dir)
	t.Logf("restarted %v", time.Since(t0))
	c2 := newClient(ch2.endpoint)
	after, err := c2.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("after the crash")})
	if err != nil {
		t.Fatal(err)
	}
	afterID := requestIDOf(t, after.ResultMetadata, nil)
	// A graceful stop, so the restarted node seals its trail with a digest.
	if err, ok := ch2.Terminate(10 * time.Second); !ok {
		t.Fatal("trent did not stop within 10 s of SIGTERM")
	} else if err != nil {
		t.Errorf("trent after SIGTERM: %v\n%s", err, ch2.Output())
	}

	t.Logf("stopped %v", time.Since(t0))
	byReq, _ := trailOf(t, dir)
	t.Logf("read %v", time.Since(t0))
	missing := 0
	for _, id := range append(acked, afterID) {
		if n := len(byReq[id]); n != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged request %q has %d records, want 1", id, n)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged requests lack exactly one record", missing, len(acked)+1)
	}
	t.Logf("%d calls acknowledged before SIGKILL, all recorded", len(acked))

	out, err := exec.Command(trentBinary(t), "audit", "verify", "--dir", filepath.Join(dir, "audit")).CombinedOutput()
	if err != nil {
		t.Fatalf("trent audit verify: %v\n%s", err, out)
	}
	t.Logf("verified %v", time.Since(t0))
	noSecretsIn(t, filepath.Join(dir, "audit"), append(secrets, []byte(adminSecret)))
	t.Logf("scanned %v", time.Since(t0))
}
