package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/node"
)

// worldKey is one key of a world and everything acknowledged about it.
type worldKey struct {
	id, arn    string
	state      types.KeyState
	desc       string
	tags       map[string]string
	aliases    []string
	policy     string // "" for the default policy
	plaintext  []byte
	ctx        map[string]string
	ciphertext []byte
}

// world is a set of keys in every durable state, built through the API.
type world struct{ keys []*worldKey }

// buildWorld creates keys in the states Enabled, Disabled, PendingDeletion
// and "cancelled deletion" (Disabled), with descriptions, tags, aliases, a
// custom policy and a ciphertext each. Every write is acknowledged before
// the next starts; the world records only acknowledged writes.
func buildWorld(t testing.TB, c *kms.Client) *world {
	t.Helper()
	w := &world{}
	for i, final := range []string{"enabled", "disabled", "pending", "cancelled", "retagged"} {
		desc := uniq("durable " + final)
		m := createKey(t, c, &kms.CreateKeyInput{Description: &desc, Tags: []types.Tag{{TagKey: aws.String("n"), TagValue: aws.String(fmt.Sprint(i))}}})
		k := &worldKey{id: *m.KeyId, arn: *m.Arn, state: types.KeyStateEnabled, desc: desc,
			tags: map[string]string{"n": fmt.Sprint(i)}, plaintext: randBytes(t, 64), ctx: map[string]string{"i": fmt.Sprint(i)}}
		k.aliases = []string{createAlias(t, c, k.id)}
		enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &k.aliases[0], Plaintext: k.plaintext, EncryptionContext: k.ctx})
		if err != nil {
			t.Fatal(err)
		}
		k.ciphertext = enc.CiphertextBlob
		switch final {
		case "disabled":
			if _, err := c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: &k.id}); err != nil {
				t.Fatal(err)
			}
			k.state = types.KeyStateDisabled
		case "pending":
			if _, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: &k.id, PendingWindowInDays: aws.Int32(7)}); err != nil {
				t.Fatal(err)
			}
			k.state = types.KeyStatePendingDeletion
		case "cancelled":
			if _, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: &k.id}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CancelKeyDeletion(ctxT(t), &kms.CancelKeyDeletionInput{KeyId: &k.id}); err != nil {
				t.Fatal(err)
			}
			k.state = types.KeyStateDisabled
		case "retagged":
			if _, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: &k.id, Tags: []types.Tag{{TagKey: aws.String("extra"), TagValue: aws.String("x")}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.UntagResource(ctxT(t), &kms.UntagResourceInput{KeyId: &k.id, TagKeys: []string{"n"}}); err != nil {
				t.Fatal(err)
			}
			k.tags = map[string]string{"extra": "x"}
			second := createAlias(t, c, k.id)
			k.aliases = append(k.aliases, second)
			if _, err := c.PutKeyPolicy(ctxT(t), &kms.PutKeyPolicyInput{KeyId: &k.id, Policy: aws.String(customPolicy)}); err != nil {
				t.Fatal(err)
			}
			k.policy = customPolicy
			k.desc = "updated " + k.desc
			if _, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: &k.id, Description: &k.desc}); err != nil {
				t.Fatal(err)
			}
		}
		w.keys = append(w.keys, k)
	}
	return w
}

// check asserts that every acknowledged write of the world is visible
// through c and that every ciphertext still decrypts (after enabling the
// keys that are not pending deletion).
func (w *world) check(t testing.TB, c *kms.Client) {
	t.Helper()
	for _, k := range w.keys {
		m := describe(t, c, k.arn)
		if m.KeyState != k.state || aws.ToString(m.Description) != k.desc {
			t.Errorf("key %s: state %s, description %q; want %s, %q", k.id, m.KeyState, aws.ToString(m.Description), k.state, k.desc)
		}
		tags, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: &k.id})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, tg := range tags.Tags {
			got[*tg.TagKey] = *tg.TagValue
		}
		if fmt.Sprint(got) != fmt.Sprint(k.tags) {
			t.Errorf("key %s: tags %v, want %v", k.id, got, k.tags)
		}
		aliases := listAliases(t, c, &k.id)
		for _, a := range k.aliases {
			if _, ok := aliases[a]; !ok {
				t.Errorf("key %s: alias %s lost", k.id, a)
			}
			if m := describe(t, c, a); *m.KeyId != k.id {
				t.Errorf("alias %s resolves to %s, want %s", a, *m.KeyId, k.id)
			}
		}
		if len(aliases) != len(k.aliases) {
			t.Errorf("key %s: aliases %v, want %v", k.id, aliases, k.aliases)
		}
		pol, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: &k.id})
		if err != nil {
			t.Fatal(err)
		}
		if k.policy != "" && *pol.Policy != k.policy || k.policy == "" && !strings.Contains(*pol.Policy, "key-default-1") {
			t.Errorf("key %s: policy %s", k.id, *pol.Policy)
		}
		if k.state == types.KeyStatePendingDeletion {
			continue
		}
		if k.state == types.KeyStateDisabled {
			if _, err := c.EnableKey(ctxT(t), &kms.EnableKeyInput{KeyId: &k.id}); err != nil {
				t.Fatal(err)
			}
			defer c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: &k.id})
		}
		dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: k.ciphertext, EncryptionContext: k.ctx})
		if err != nil || !bytes.Equal(dec.Plaintext, k.plaintext) {
			t.Errorf("key %s: ciphertext made before the restart does not decrypt: %v", k.id, err)
		}
	}
}

func TestCleanRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir, node.Options{})
	w := buildWorld(t, newClient(n.Endpoint))
	stopNode(t, n)

	n2 := startNode(t, dir, node.Options{})
	c := newClient(n2.Endpoint)
	w.check(t, c)
	// And once more: the checks themselves wrote (Enable/Disable).
	stopNode(t, n2)
	n3 := startNode(t, dir, node.Options{})
	w.check(t, newClient(n3.Endpoint))
}

var (
	trentOnce sync.Once
	trentBin  string
	trentErr  error
)

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	trentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trent-e2e-bin-")
		if err != nil {
			trentErr = err
			return
		}
		trentBin = filepath.Join(dir, "trent")
		cmd := exec.Command("go", "build", "-o", trentBin, "github.com/trentkms/trent/cmd/trent")
		if out, err := cmd.CombinedOutput(); err != nil {
			trentErr = fmt.Errorf("go build ./cmd/trent: %v\n%s", err, out)
		}
	})
	if trentErr != nil {
		t.Fatal(trentErr)
	}
	return trentBin
}

// child is a trent process started by a test.
type child struct {
	cmd      *exec.Cmd
	endpoint string
	stderr   *bytes.Buffer
}

// startChild runs `trent serve` on a random loopback port with dir as its
// data directory and waits for it to print its endpoint.
func startChild(t testing.TB, dir string) *child {
	t.Helper()
	cmd := exec.Command(trentBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = append(os.Environ(), "TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = ch.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "endpoint:" {
				found <- f[1]
			}
		}
	}()
	select {
	case ch.endpoint = <-found:
	case <-time.After(15 * time.Second):
		t.Fatalf("trent did not print its endpoint; stderr:\n%s", ch.stderr)
	}
	if !strings.HasPrefix(ch.endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoint %q is not loopback", ch.endpoint)
	}
	return ch
}

// kill sends SIGKILL and reaps the process.
func (ch *child) kill(t testing.TB) {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := ch.cmd.Wait()
	if ws, ok := ch.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("trent did not die of SIGKILL: %v", err)
	}
}

// TestKill9 writes through a child trent, kills it with SIGKILL right after
// the last acknowledged response, restarts it on the same data directory
// and checks every acknowledged write.
func TestKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ch := startChild(t, dir)
	c := newClient(ch.endpoint)
	w := buildWorld(t, c)
	// A burst of acknowledged writes right before the kill, with nothing
	// in between the last response and SIGKILL.
	last := &worldKey{state: types.KeyStateEnabled, tags: map[string]string{}, plaintext: []byte("last words"), ctx: map[string]string{}}
	m := createKey(t, c, &kms.CreateKeyInput{Description: aws.String("last")})
	last.id, last.arn, last.desc = *m.KeyId, *m.Arn, "last"
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &last.id, Plaintext: last.plaintext})
	if err != nil {
		t.Fatal(err)
	}
	last.ciphertext = enc.CiphertextBlob
	name := uniq("alias/e2e-last")
	_, err = c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &name, TargetKeyId: &last.id})
	if err != nil {
		t.Fatal(err)
	}
	ch.kill(t)
	last.aliases = []string{name}
	w.keys = append(w.keys, last)

	ch2 := startChild(t, dir)
	w.check(t, newClient(ch2.endpoint))
	ch2.kill(t)
}
