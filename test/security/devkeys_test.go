package security

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// The development clock (trent serve --dev) and the keys file
// (--keys-file): docs/development.md.

// devAdvance moves s's development clock by seconds as c and returns the
// answer.
func devAdvance(t *testing.T, s *Server, c Creds, seconds int64) Response {
	t.Helper()
	return s.Call(t, c, "TrentDevelopment.AdvanceClock", fmt.Sprintf(`{"Seconds":%d}`, seconds))
}

// devOffset returns s's development clock offset in seconds.
func devOffset(t *testing.T, s *Server) int64 {
	t.Helper()
	r := s.Call(t, Admin, "TrentDevelopment.GetClock", "{}")
	if r.Status != http.StatusOK {
		t.Fatalf("GetClock: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	var out struct{ OffsetSeconds, Now int64 }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.OffsetSeconds
}

var (
	devAKID   = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
	devSecret = regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)
	devToken  = regexp.MustCompile(`<SessionToken>([^<]+)</SessionToken>`)
)

// TestDevClockRefusedOffLoopback: --dev on a non-loopback address does not
// start.
func TestDevClockRefusedOffLoopback(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--dev", "--insecure-http", "--listen", "0.0.0.0:0"}, ExpectFail: true})
	if err, _ := s.Exited(10 * time.Second); err == nil || !strings.Contains(s.Output(), "refusing --dev on non-loopback address 0.0.0.0:0") {
		t.Fatalf("--dev on 0.0.0.0: exit %v, output:\n%s", err, s.Output())
	}
}

// TestDevClockAbsentWithoutDev: without --dev the development API's targets
// are unknown operations, answered as any unknown target, signed or not,
// and nothing moves the clock.
func TestDevClockAbsentWithoutDev(t *testing.T) {
	s := Start(t, Opts{})
	for _, target := range []string{"TrentDevelopment.AdvanceClock", "TrentDevelopment.GetClock", "NoSuchService.AdvanceClock"} {
		for _, c := range []Creds{Admin, {}} {
			r := s.Call(t, c, target, `{"Seconds":604800}`)
			want := "The requested operation is not recognized by the service: " + target
			if r.Status != http.StatusBadRequest || r.ErrorType != "UnknownOperationException" || r.Message != want {
				t.Errorf("%s (signed %v): %d %s %q, want 400 UnknownOperationException %q", target, c.AKID != "", r.Status, r.ErrorType, r.Message, want)
			}
		}
	}
	out, err := Trent(t, []string{"AWS_ACCESS_KEY_ID=" + adminAKID, "AWS_SECRET_ACCESS_KEY=" + adminSecret}, "admin", "dev-clock", "advance", "7d", "--endpoint-url", s.Endpoint)
	if err == nil || !strings.Contains(out, "start it with trent serve --dev") {
		t.Errorf("trent admin dev-clock without --dev: %v\n%s", err, out)
	}
}

// TestDevClockOnlyAdminRoot: only the administrator account's root moves
// the clock; an IAM user allowed everything, another account's root and an
// unsigned request are refused, and the clock never goes back.
func TestDevClockOnlyAdminRoot(t *testing.T) {
	s := Start(t, Opts{Args: []string{"--dev"}})
	_, user := ecUser(t, s, "dev-user")
	s.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", "dev-user", "PolicyName", "all",
		"PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	other := isoCreateAccount(t, s, "444455556666")
	for name, c := range map[string]Creds{"IAM user with Action *": user, "another account's root": other} {
		for _, op := range []string{"AdvanceClock", "GetClock"} {
			r := s.Call(t, c, "TrentDevelopment."+op, `{"Seconds":604800}`)
			if op == "GetClock" {
				r = s.Call(t, c, "TrentDevelopment."+op, `{}`)
			}
			if r.Status != http.StatusBadRequest || r.ErrorType != "AccessDeniedException" {
				t.Errorf("%s %s: %d %s %s, want AccessDeniedException", name, op, r.Status, r.ErrorType, r.Message)
			}
		}
	}
	if r := s.Call(t, Creds{}, "TrentDevelopment.AdvanceClock", `{"Seconds":604800}`); r.Status == http.StatusOK {
		t.Errorf("unsigned AdvanceClock answered 200")
	}
	if off := devOffset(t, s); off != 0 {
		t.Fatalf("refused calls moved the clock to %d s", off)
	}
	if r := devAdvance(t, s, Admin, 86400); r.Status != http.StatusOK {
		t.Fatalf("admin AdvanceClock: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	for _, bad := range []string{`{"Seconds":-86400}`, `{"Seconds":0}`, `{}`, `{"Seconds":4000000000}`, `{"Seconds":"1"}`} {
		if r := s.Call(t, Admin, "TrentDevelopment.AdvanceClock", bad); r.Status != http.StatusBadRequest {
			t.Errorf("AdvanceClock %s: %d %s, want 400", bad, r.Status, r.ErrorType)
		}
	}
	if off := devOffset(t, s); off != 86400 {
		t.Fatalf("clock offset %d s, want 86400 (forward once, never back)", off)
	}
	if !strings.Contains(s.Output(), "DEVELOPMENT: --dev") {
		t.Errorf("the banner does not announce development mode:\n%s", s.Output())
	}
	trail := devTrail(t, s)
	for _, want := range []string{`"eventName":"DevelopmentModeEnabled"`, `"eventName":"AdvanceClock"`, `"previousOffsetSeconds":0`, `"offsetSeconds":86400`} {
		if !strings.Contains(trail, want) {
			t.Errorf("the trail lacks %s", want)
		}
	}
	// Its clock is in the store: the store is refused without --dev.
	s.Stop(t)
	s2 := Start(t, Opts{DataDir: s.DataDir, RootKeyHex: s.RootKeyHex, ExpectFail: true})
	if !strings.Contains(s2.Output(), "was advanced by 24h0m0s with trent serve --dev") {
		t.Errorf("a store whose clock was advanced started without --dev:\n%s", s2.Output())
	}
}

// devTrail returns the text of s's audit trail files.
func devTrail(t *testing.T, s *Server) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(filepath.Join(s.DataDir, "audit"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

// TestDevClockLifecycle drives deletion, automatic rotation, imported
// material expiry and STS session expiry with the development clock, with
// aws-sdk-go-v2 and `trent admin dev-clock`.
func TestDevClockLifecycle(t *testing.T) {
	dir := t.TempDir()
	material := make([]byte, 32)
	rand.Read(material)
	matFile := filepath.Join(dir, "aes.key")
	if err := os.WriteFile(matFile, material, 0o600); err != nil {
		t.Fatal(err)
	}
	const extID = "0f1e2d3c-0000-4000-8000-00000000abcd"
	keys := fmt.Sprintf("keys:\n  - id: %s\n    origin: EXTERNAL\n    material_file: %s\n    valid_to: %s\n",
		extID, matFile, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
	keysFile := filepath.Join(dir, "keys.yaml")
	os.WriteFile(keysFile, []byte(keys), 0o600)
	s := Start(t, Opts{Args: []string{"--dev", "--keys-file", keysFile}})
	ctx := context.Background()
	c := s.KMS(Admin)

	doomed, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: doomed.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	rotating, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: rotating.KeyMetadata.KeyId, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: rotating.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	// A role session of 15 minutes.
	s.MustQuery(t, Admin, "iam", "Action", "CreateRole", "RoleName", "dev-role", "AssumeRolePolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:root"},"Action":"sts:AssumeRole"}]}`)
	s.MustQuery(t, Admin, "iam", "Action", "PutRolePolicy", "RoleName", "dev-role", "PolicyName", "kms",
		"PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	body := s.MustQuery(t, Admin, "sts", "Action", "AssumeRole", "RoleArn", "arn:aws:iam::"+account+":role/dev-role",
		"RoleSessionName", "dev", "DurationSeconds", "900")
	m1, m2, m3 := devAKID.FindSubmatch(body), devSecret.FindSubmatch(body), devToken.FindSubmatch(body)
	if m1 == nil || m2 == nil || m3 == nil {
		t.Fatalf("AssumeRole: %s", body)
	}
	session := s.KMS(Creds{AKID: string(m1[1]), Secret: string(m2[1]), Token: string(m3[1])})
	if _, err := session.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("the session before the clock moved: %v", err)
	}
	ct, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(extID), Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("the declared EXTERNAL key: %v", err)
	}
	_ = ct

	// Seven days and a second: the deletion, the session and the imported
	// material (valid two days) are due.
	env := []string{"AWS_ACCESS_KEY_ID=" + adminAKID, "AWS_SECRET_ACCESS_KEY=" + adminSecret}
	if out, err := Trent(t, env, "admin", "dev-clock", "advance", "604801s", "--endpoint-url", s.Endpoint); err != nil || !strings.Contains(out, "168h0m1s ahead") {
		t.Fatalf("trent admin dev-clock advance: %v\n%s", err, out)
	}
	WaitFor(t, 10*time.Second, func() error {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: doomed.KeyMetadata.KeyId})
		var nf *types.NotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("the key 7 days past its deletion date: %v", err)
		}
		return nil
	})
	WaitFor(t, 10*time.Second, func() error {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(extID)})
		if err != nil || d.KeyMetadata.KeyState != types.KeyStatePendingImport {
			return fmt.Errorf("the EXTERNAL key past ValidTo: %v %+v", err, d)
		}
		return nil
	})
	_, err = session.ListKeys(ctx, &kms.ListKeysInput{})
	if err == nil || !strings.Contains(err.Error(), "ExpiredTokenException") {
		t.Errorf("a 15-minute session 7 days later: %v, want ExpiredTokenException", err)
	}
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: rotating.KeyMetadata.KeyId})
	if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand {
		t.Fatalf("rotations before the period: %v %+v", err, rot)
	}
	// 90 days after it was enabled: an automatic rotation.
	if r := devAdvance(t, s, Admin, 83*86400); r.Status != http.StatusOK {
		t.Fatalf("AdvanceClock: %d %s", r.Status, r.ErrorType)
	}
	WaitFor(t, 10*time.Second, func() error {
		rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: rotating.KeyMetadata.KeyId})
		if err != nil || len(rot.Rotations) != 2 || rot.Rotations[1].RotationType != types.RotationTypeAutomatic {
			return fmt.Errorf("rotations 90 days on: %v %+v", err, rot)
		}
		return nil
	})
	// The trail keeps the wall clock: the deletion is recorded today.
	trail := devTrail(t, s)
	today := time.Now().UTC().Format("2006-01-02")
	if !regexp.MustCompile(`"eventTime":"` + today + `[^"]*","eventSource":"kms.amazonaws.com","eventName":"DeleteKey"`).MatchString(trail) {
		t.Errorf("no DeleteKey record dated today (%s) in the trail", today)
	}
	if !strings.Contains(trail, `"developmentClockOffsetSeconds":604801`) {
		t.Errorf("the DeleteKey record does not say the development clock ran ahead")
	}
}

// TestKeysFile: the keys file creates keys with their declared IDs once;
// a second start with the same file changes and records nothing; a changed
// file is applied and recorded as the API calls; immutable changes and
// other material are refused; the imported HMAC material is the file's (a
// MAC equal to one computed here) and so is the AES material (ciphertexts
// decrypt again after the material is deleted and the file imports it
// anew); the material never shows in the output or the trail.
func TestKeysFile(t *testing.T) {
	dir := t.TempDir()
	hmacKey, aesKey := make([]byte, 32), make([]byte, 32)
	rand.Read(hmacKey)
	rand.Read(aesKey)
	os.WriteFile(filepath.Join(dir, "hmac.key"), hmacKey, 0o600)
	os.WriteFile(filepath.Join(dir, "aes.key"), aesKey, 0o600)
	const (
		appID  = "11111111-2222-4333-8444-555555555555"
		hmacID = "22222222-2222-4333-8444-555555555555"
		aesID  = "mrk-0123456789abcdef0123456789abcdef"
	)
	file := func(team, enabled string) string {
		return fmt.Sprintf(`keys:
  - id: %s
    description: app key
    aliases: [alias/app]
    tags: {team: %s}
    rotation: {enabled: true, period_days: 90}
  - id: %s
    key_spec: HMAC_256
    key_usage: GENERATE_VERIFY_MAC
    origin: EXTERNAL
    material_file: %s/hmac.key
  - id: %s
    multi_region: true
    origin: EXTERNAL
    material_file: %s/aes.key
    enabled: %s
`, appID, team, hmacID, dir, aesID, dir, enabled)
	}
	keysFile := filepath.Join(dir, "keys.yaml")
	write := func(s string) {
		if err := os.WriteFile(keysFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file("a", "true"))
	data := t.TempDir()
	root := randHex(32)
	start := func() *Server {
		return Start(t, Opts{DataDir: data, RootKeyHex: root, Args: []string{"--keys-file", keysFile}})
	}
	ctx := context.Background()
	s := start()
	c := s.KMS(Admin)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || *d.KeyMetadata.KeyId != appID || *d.KeyMetadata.Description != "app key" {
		t.Fatalf("alias/app: %v %+v", err, d)
	}
	msg := []byte("the message")
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(hmacID), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	local := hmac.New(sha256.New, hmacKey)
	local.Write(msg)
	if !hmac.Equal(mac.Mac, local.Sum(nil)) {
		t.Fatalf("the MAC of the imported HMAC key differs from HMAC-SHA256 under the file's material")
	}
	ct, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(aesID), Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	changes := func() int { return strings.Count(devTrail(t, s), `"invokedBy":"keys-file.trent"`) }
	created := changes()
	if created < 7 { // 3 CreateKey, 2 ImportKeyMaterial, CreateAlias, EnableKeyRotation
		t.Fatalf("%d changes recorded by the keys file at the first start, want 7", created)
	}
	s.Stop(t)

	// The same file: nothing changes, nothing is recorded.
	s = start()
	if n := changes(); n != created {
		t.Errorf("a second start with the same file recorded %d changes", n-created)
	}
	// The material was deleted meanwhile: the next start imports it again,
	// and the old ciphertext decrypts: the material is the file's.
	c = s.KMS(Admin)
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(aesID)}); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)

	write(file("b", "false"))
	s = start()
	c = s.KMS(Admin)
	if pt, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct.CiphertextBlob, KeyId: aws.String(aesID)}); err == nil || pt != nil {
		// Disabled by the new file: refused, but not as undecryptable.
		var dis *types.DisabledException
		if !errors.As(err, &dis) {
			t.Errorf("Decrypt with the re-imported, disabled key: %v", err)
		}
	}
	trail := devTrail(t, s)
	for _, want := range []string{`"eventName":"TagResource"`, `"eventName":"ImportKeyMaterial"`, `"eventName":"DisableKey"`} {
		if strings.Count(trail, want) == 0 {
			t.Errorf("the changed file's %s is not in the trail", want)
		}
	}
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(appID)})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].TagValue != "b" {
		t.Errorf("tags after the change: %v %+v", err, tags)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(aesID)}); err != nil {
		t.Fatal(err)
	}
	pt, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct.CiphertextBlob, KeyId: aws.String(aesID)})
	if err != nil || string(pt.Plaintext) != "secret" {
		t.Fatalf("Decrypt after the file imported the material again: %v", err)
	}
	out := s.Output()
	s.Stop(t)

	// Immutable changes stop the start.
	for name, f := range map[string]string{
		"key spec": strings.Replace(file("b", "true"), "HMAC_256", "HMAC_384", 1),
		"origin":   strings.Replace(file("b", "true"), "description: app key", "description: app key\n    origin: EXTERNAL\n    material_file: "+dir+"/aes.key", 1),
	} {
		write(f)
		r := Start(t, Opts{DataDir: data, RootKeyHex: root, Args: []string{"--keys-file", keysFile}, ExpectFail: true})
		if !strings.Contains(r.Output(), "cannot change") {
			t.Errorf("%s changed: %s", name, r.Output())
		}
		out += r.Output()
	}
	write(file("b", "true"))
	other := make([]byte, 32)
	rand.Read(other)
	os.WriteFile(filepath.Join(dir, "aes.key"), other, 0o600)
	r := Start(t, Opts{DataDir: data, RootKeyHex: root, Args: []string{"--keys-file", keysFile}, ExpectFail: true})
	if !strings.Contains(r.Output(), "holds other key material than the key's") {
		t.Errorf("other material: %s", r.Output())
	}
	out += r.Output()
	os.WriteFile(filepath.Join(dir, "aes.key"), aesKey, 0o644)
	os.Chmod(filepath.Join(dir, "aes.key"), 0o644)
	r = Start(t, Opts{DataDir: data, RootKeyHex: root, Args: []string{"--keys-file", keysFile}, ExpectFail: true})
	if !strings.Contains(r.Output(), "can be read by other users") {
		t.Errorf("a world-readable material file: %s", r.Output())
	}
	out += r.Output()

	// The material appears nowhere.
	trail = devTrail(t, s)
	for _, m := range [][]byte{hmacKey, aesKey, other} {
		for _, enc := range []string{string(m), hex.EncodeToString(m), base64.StdEncoding.EncodeToString(m), base64.RawStdEncoding.EncodeToString(m)} {
			if strings.Contains(trail, enc) || strings.Contains(out, enc) {
				t.Fatalf("key material found in the trail or the output")
			}
		}
	}
}

// TestKeysFileClusterStart: two nodes of one PostgreSQL store started at
// once with the same keys file create each declared key once (one CreateKey
// record in both trails together), and both serve it.
func TestKeysFileClusterStart(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "keys.yaml")
	var b strings.Builder
	b.WriteString("keys:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - id: 33333333-2222-4333-8444-%012d\n    aliases: [alias/k%d]\n    tags: {n: \"%d\"}\n", i, i, i)
	}
	os.WriteFile(keysFile, []byte(b.String()), 0o600)
	root := randHex(32)
	// The store is bootstrapped first, so that the two starts race on the
	// keys file alone.
	first := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "n0"}})
	first.Stop(t)
	servers := make([]*Server, 2)
	done := make(chan int, 2)
	for i := range servers {
		go func() {
			defer func() { done <- i }() // also when Start fails the test
			servers[i] = Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", fmt.Sprintf("n%d", i+1), "--keys-file", keysFile}})
		}()
	}
	<-done
	<-done
	if t.Failed() {
		return
	}
	creates := 0
	for _, s := range servers {
		creates += strings.Count(devTrail(t, s), `"eventName":"CreateKey"`)
		keys, err := s.KMS(Admin).ListKeys(context.Background(), &kms.ListKeysInput{})
		if err != nil || len(keys.Keys) != 5 {
			t.Errorf("ListKeys on %s: %v, %d keys, want 5", s.Endpoint, err, len(keys.Keys))
		}
	}
	if creates != 5 {
		t.Errorf("%d CreateKey records in the two trails, want 5", creates)
	}
}
