package cluster

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// TestClusterKeyQuota: `trent admin quotas set` on the shared PostgreSQL
// store changes the key quota of every running node without restart, and
// a race of CreateKey on both nodes lands exactly on the quota.
func TestClusterKeyQuota(t *testing.T) {
	storeURL := pgtest.FreshSchema(t, "")
	c := newCluster(t, 2, storeURL)
	for _, nd := range c.nodes {
		nd.start(t)
	}
	for _, nd := range c.nodes {
		nd.waitReady(t, 60*time.Second)
	}
	ctx := context.Background()
	admin := func(args ...string) {
		t.Helper()
		cmd := exec.Command(c.nodes[0].bin, append([]string{"admin", "quotas", "set", "--store", storeURL, "--data-dir", t.TempDir(),
			"--account-id", "111122223333"}, args...)...)
		cmd.Env = c.nodes[0].env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("trent admin quotas set %v: %v\n%s", args, err, out)
		}
	}
	create := func(nd *node) error {
		_, err := nd.client().CreateKey(ctx, &kms.CreateKeyInput{})
		return err
	}
	// until polls nd until create's outcome has code ("" for success).
	until := func(nd *node, code string) error {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := create(nd)
			if errCode(err) == code {
				return err
			}
			if c := errCode(err); c != "" && c != "LimitExceededException" {
				t.Fatalf("node %s: CreateKey: %v", nd.id, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: no %q within 20s; last %v", nd.id, code, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := create(c.nodes[0]); err != nil {
		t.Fatal(err)
	}
	admin("--keys", "1")
	var used int
	for _, nd := range c.nodes {
		err := until(nd, "LimitExceededException")
		var ae smithy.APIError
		errors.As(err, &ae)
		if _, err := fmt.Sscanf(ae.ErrorMessage(), "Key quota for this account in this region is 1 but the current usage is %d.", &used); err != nil {
			t.Fatalf("node %s: message %q", nd.id, ae.ErrorMessage())
		}
	}
	limit := used + 5
	admin("--keys", fmt.Sprint(limit))
	for _, nd := range c.nodes { // each node has the new quota once it creates a key
		until(nd, "")
	}
	left := limit - used - 2
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := errCode(create(c.nodes[i%2]))
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[""] != left || codes["LimitExceededException"] != 12-left {
		t.Fatalf("race at the quota: outcomes %v; want %d successes and %d LimitExceededException", codes, left, 12-left)
	}
	for _, nd := range c.nodes {
		nd.stop(t)
	}
}
