package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/test/internal/trentproc"
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

// trentBinary builds cmd/trent once per test run and returns its path.
func trentBinary(t testing.TB) string {
	t.Helper()
	return trentproc.Build(t)
}

// child is a trent process started by a test.
type child struct {
	*trentproc.Process
	endpoint string
}

// startChild runs `trent serve` on a random loopback port with dir as its
// data directory and waits for it to print its endpoint.
func startChild(t testing.TB, dir string) *child {
	t.Helper()
	p := trentproc.Start(t, trentproc.Options{Path: trentBinary(t),
		Args: []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir},
		// XDG_CONFIG_HOME stays: TestMain points it at a temporary directory.
		Env:     append(os.Environ(), "TRENT_ACCESS_KEY_ID="+adminAKID, "TRENT_SECRET_ACCESS_KEY="+adminSecret),
		Timeout: 15 * time.Second})
	return &child{Process: p, endpoint: p.Endpoint}
}

// kill sends SIGKILL and reaps the process.
func (ch *child) kill(t testing.TB) {
	t.Helper()
	if !ch.Alive() {
		t.Fatalf("trent exited before SIGKILL; output:\n%s", ch.Output())
	}
	ch.Kill()
	err, _ := ch.Exited(0)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("trent did not die of SIGKILL: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
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
