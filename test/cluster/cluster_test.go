package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// propagationBound is the documented bound (docs/cluster.md) for a change
// made through one node to take effect on every other node.
const propagationBound = time.Second

// failFast bounds how long a call may take while PostgreSQL is down: the
// store's call timeout (5 s) plus margin. Anything longer is a hang.
const failFast = 7 * time.Second

// ledger records everything the cluster acknowledged.
type ledger struct {
	mu      sync.Mutex
	keys    []string
	sealed  []sealed
	calls   atomic.Int64
	codes   sync.Map // code -> *atomic.Int64
	slowest atomic.Int64
}

type sealed struct {
	key        string
	ciphertext []byte
	plaintext  []byte
}

func (l *ledger) count(code string) {
	v, _ := l.codes.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (l *ledger) summary() string {
	var b bytes.Buffer
	l.codes.Range(func(k, v any) bool {
		fmt.Fprintf(&b, " %s=%d", k, v.(*atomic.Int64).Load())
		return true
	})
	return b.String()
}

func TestCluster(t *testing.T) {
	base := pgtest.BaseURL(t)
	// The database restart below needs a server of this test's own; the
	// shared one at TRENT_TEST_POSTGRES_URL is used only if that fails.
	pgDir := ""
	if u, dir := privatePostgres(t); u != "" {
		base, pgDir = u, dir
	}
	storeURL := pgtest.FreshSchema(t, base)
	c := newCluster(t, 3, storeURL)
	// All three start at once: concurrent migration and bootstrap.
	for _, nd := range c.nodes {
		nd.start(t)
	}
	for _, nd := range c.nodes {
		nd.waitReady(t, 60*time.Second)
	}
	clients := make([]*kms.Client, len(c.nodes))
	for i, nd := range c.nodes {
		clients[i] = nd.client()
	}
	ctx := context.Background()

	t.Run("ok/disable-through-one-node-refused-by-the-others", func(t *testing.T) {
		var lat []time.Duration
		for round := range 5 {
			a := round % 3
			out, err := clients[a].CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			id := *out.KeyMetadata.KeyId
			for _, cl := range clients { // warm every node's cache
				if _, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("warm")}); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			if _, err := clients[a].DisableKey(ctx, &kms.DisableKeyInput{KeyId: &id}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i, cl := range clients {
				if i == a {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
						if errCode(err) == "DisabledException" {
							mu.Lock()
							lat = append(lat, time.Since(start))
							mu.Unlock()
							return
						}
						if time.Since(start) > 5*propagationBound {
							t.Errorf("node %s still accepts key %s disabled through %s after %v (last: %v)",
								c.nodes[i].id, id, c.nodes[a].id, time.Since(start), err)
							return
						}
					}
				}()
			}
			wg.Wait()
		}
		slices.Sort(lat)
		t.Logf("DisableKey propagation (n=%d): min %v median %v max %v", len(lat), lat[0], lat[len(lat)/2], lat[len(lat)-1])
		if lat[len(lat)-1] > propagationBound {
			t.Errorf("propagation took %v, above the stated bound %v", lat[len(lat)-1], propagationBound)
		}
	})

	led := &ledger{}
	t.Run("ok/mixed-load-survives-kill-and-database-restart", func(t *testing.T) {
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runLoad(loadCtx, g, clients, led)
			}()
		}
		time.Sleep(2 * time.Second)

		victim := c.nodes[1]
		victim.kill()
		t.Logf("killed %s (SIGKILL) under load", victim.id)
		time.Sleep(time.Second)
		victim.start(t)
		victim.waitReady(t, 30*time.Second)
		t.Logf("restarted %s", victim.id)
		time.Sleep(time.Second)

		if pgDir != "" {
			databaseOutage(t, c, clients, led, pgDir)
		} else {
			t.Log("skipping the PostgreSQL restart: no private PostgreSQL server")
		}
		time.Sleep(2 * time.Second)
		stopLoad()
		wg.Wait()
		t.Logf("load: %d calls, %d keys created, %d ciphertexts; errors:%s; slowest call %v",
			led.calls.Load(), len(led.keys), len(led.sealed), led.summary(), time.Duration(led.slowest.Load()))
		if time.Duration(led.slowest.Load()) > failFast {
			t.Errorf("a call took %v: calls must fail fast, never hang", time.Duration(led.slowest.Load()))
		}
		if len(led.keys) == 0 || len(led.sealed) == 0 {
			t.Fatal("the load acknowledged nothing")
		}
	})

	t.Run("ok/every-acknowledged-write-is-visible-through-every-node", func(t *testing.T) {
		checkLedger(t, clients, led)
	})

	t.Run("ok/due-jobs-run-exactly-once-after-lease-holder-dies", func(t *testing.T) {
		var ids []string
		for i := range 12 {
			cl := clients[i%3]
			out, err := cl.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			id := *out.KeyMetadata.KeyId
			if _, err := cl.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		holder := leaseHolder(t, storeURL)
		var dead *node
		for _, nd := range c.nodes {
			if nd.id == holder {
				dead = nd
			}
		}
		if dead == nil {
			t.Fatalf("scheduler lease holder %q is not a node", holder)
		}
		dead.kill()
		t.Logf("killed scheduler lease holder %s; moving the clock 8 days ahead", dead.id)
		start := time.Now()
		c.setClockOffset(8 * 24 * time.Hour)
		var live *kms.Client
		for i, nd := range c.nodes {
			if nd != dead {
				live = clients[i]
			}
		}
		for _, id := range ids {
			for {
				_, err := live.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
				if errCode(err) == "NotFoundException" {
					break
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("key %s not deleted 30s after its deletion date passed (last: %v): a job is stuck", id, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Logf("all %d deletions ran %v after the lease holder died (lease TTL 5.6s)", len(ids), time.Since(start).Round(time.Millisecond))
		if got := leaseHolder(t, storeURL); got == dead.id {
			t.Errorf("lease still held by the dead node %s", got)
		}
		dead.start(t)
		dead.waitReady(t, 30*time.Second)
		time.Sleep(time.Second) // the restarted node also sees the jobs gone

		runs := map[string]int{}
		for _, nd := range c.nodes {
			for id, n := range nd.serviceEvents(t)["DeleteKey"] {
				runs[id] += n
			}
		}
		for _, id := range ids {
			if runs[id] != 1 {
				t.Errorf("deletion of %s ran %d times across the cluster, want exactly 1", id, runs[id])
			}
		}
	})

	t.Run("ok/every-node-audit-trail-verifies", func(t *testing.T) {
		for _, nd := range c.nodes {
			nd.stop(t)
		}
		for _, nd := range c.nodes {
			nd.verifyAudit(t)
		}
	})
}

// runLoad drives one load goroutine until ctx ends: CreateKey, Encrypt,
// GenerateDataKey and Decrypt, round-robin across the nodes.
func runLoad(ctx context.Context, g int, clients []*kms.Client, led *ledger) {
	r := rand.New(rand.NewPCG(uint64(g), 7))
	var mine []string
	for i := 0; ctx.Err() == nil; i++ {
		cl := clients[(g+i)%len(clients)]
		callCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		var err error
		switch op := r.IntN(10); {
		case op == 0 || len(mine) == 0:
			var out *kms.CreateKeyOutput
			if out, err = cl.CreateKey(callCtx, &kms.CreateKeyInput{}); err == nil {
				id := *out.KeyMetadata.KeyId
				mine = append(mine, id)
				led.mu.Lock()
				led.keys = append(led.keys, id)
				led.mu.Unlock()
			}
		case op < 5:
			id := mine[r.IntN(len(mine))]
			pt := fmt.Appendf(nil, "g%d-i%d", g, i)
			var out *kms.EncryptOutput
			if out, err = cl.Encrypt(callCtx, &kms.EncryptInput{KeyId: &id, Plaintext: pt}); err == nil {
				led.mu.Lock()
				led.sealed = append(led.sealed, sealed{id, out.CiphertextBlob, pt})
				led.mu.Unlock()
			}
		case op < 8:
			id := mine[r.IntN(len(mine))]
			var out *kms.GenerateDataKeyOutput
			if out, err = cl.GenerateDataKey(callCtx, &kms.GenerateDataKeyInput{KeyId: &id, NumberOfBytes: aws.Int32(32)}); err == nil {
				led.mu.Lock()
				led.sealed = append(led.sealed, sealed{id, out.CiphertextBlob, out.Plaintext})
				led.mu.Unlock()
			}
		default:
			led.mu.Lock()
			var s sealed
			if n := len(led.sealed); n > 0 {
				s = led.sealed[r.IntN(n)]
			}
			led.mu.Unlock()
			if s.ciphertext == nil {
				break
			}
			var out *kms.DecryptOutput
			if out, err = cl.Decrypt(callCtx, &kms.DecryptInput{CiphertextBlob: s.ciphertext}); err == nil && !bytes.Equal(out.Plaintext, s.plaintext) {
				led.count("WRONG-PLAINTEXT")
			}
		}
		cancel()
		d := time.Since(start)
		for {
			old := led.slowest.Load()
			if int64(d) <= old || led.slowest.CompareAndSwap(old, int64(d)) {
				break
			}
		}
		led.calls.Add(1)
		if err != nil {
			led.count(errCode(err))
			time.Sleep(20 * time.Millisecond) // do not spin on a dead node
		}
	}
}

// databaseOutage stops PostgreSQL under load, checks that calls fail fast
// with AWS's dependency errors and that /readyz reports not ready, then
// starts it again and checks that every node recovers without a restart.
func databaseOutage(t *testing.T, c *cluster, clients []*kms.Client, led *ledger, pgDir string) {
	ctx := context.Background()
	if _, err := pgScript(t, pgDir, "stop"); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	down := time.Now()
	t.Log("PostgreSQL stopped")
	restarted := false
	defer func() {
		if !restarted {
			pgScript(t, pgDir, "start")
		}
	}()
	time.Sleep(time.Second) // past the cache grace (0 s by default, 2 polls)
	led.mu.Lock()
	cached := led.keys[0] // used by the load on every node before the outage
	led.mu.Unlock()
	for i, cl := range clients {
		for _, call := range []struct {
			name string
			do   func() error
		}{
			{"CreateKey", func() error { _, err := cl.CreateKey(ctx, &kms.CreateKeyInput{}); return err }},
			{"ListKeys", func() error { _, err := cl.ListKeys(ctx, &kms.ListKeysInput{}); return err }},
			// The hot path fails closed too: cached keys are unconfirmed.
			{"Encrypt", func() error {
				_, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: &cached, Plaintext: []byte("x")})
				return err
			}},
		} {
			start := time.Now()
			err := call.do()
			took := time.Since(start)
			code := errCode(err)
			if code != "DependencyTimeoutException" && code != "KMSInternalException" {
				t.Errorf("%s via %s with the database down: %v, want DependencyTimeoutException or KMSInternalException", call.name, c.nodes[i].id, err)
			}
			if took > failFast {
				t.Errorf("%s via %s took %v with the database down", call.name, c.nodes[i].id, took)
			}
			t.Logf("database down: %s via %s -> %s in %v", call.name, c.nodes[i].id, code, took.Round(time.Millisecond))
		}
		if got := c.nodes[i].readyz(); got != http.StatusServiceUnavailable {
			t.Errorf("/readyz of %s = %d with the database down, want 503", c.nodes[i].id, got)
		}
	}
	if _, err := pgScript(t, pgDir, "start"); err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	restarted = true
	t.Logf("PostgreSQL started again after %v", time.Since(down).Round(time.Millisecond))
	up := time.Now()
	for i, cl := range clients {
		for {
			_, err := cl.CreateKey(ctx, &kms.CreateKeyInput{})
			if err == nil && c.nodes[i].readyz() == http.StatusOK {
				break
			}
			if time.Since(up) > 30*time.Second {
				t.Fatalf("node %s has not recovered 30s after PostgreSQL came back: %v", c.nodes[i].id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("all nodes serve again %v after PostgreSQL came back", time.Since(up).Round(time.Millisecond))
}

// checkLedger checks that every acknowledged key exists and every returned
// ciphertext decrypts, to its plaintext, through every node.
func checkLedger(t *testing.T, clients []*kms.Client, led *ledger) {
	ctx := context.Background()
	type job struct {
		cl  int
		key string
		s   *sealed
	}
	jobs := make(chan job)
	var failures atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if j.s == nil {
					if _, err := clients[j.cl].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &j.key}); err != nil {
						if failures.Add(1) < 10 {
							t.Errorf("acknowledged key %s via node %d: %v", j.key, j.cl+1, err)
						}
					}
					continue
				}
				out, err := clients[j.cl].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: j.s.ciphertext})
				if err != nil || !bytes.Equal(out.Plaintext, j.s.plaintext) {
					if failures.Add(1) < 10 {
						t.Errorf("ciphertext under %s via node %d: %v (or wrong plaintext)", j.s.key, j.cl+1, err)
					}
				}
			}
		}()
	}
	for cl := range clients {
		for _, k := range led.keys {
			jobs <- job{cl: cl, key: k}
		}
		for i := range led.sealed {
			jobs <- job{cl: cl, s: &led.sealed[i]}
		}
	}
	close(jobs)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d acknowledged writes are missing or undecryptable", n)
	}
	if v, ok := led.codes.Load("WRONG-PLAINTEXT"); ok && v.(*atomic.Int64).Load() > 0 {
		t.Error("a Decrypt during the load returned the wrong plaintext")
	}
	t.Logf("checked %d keys and %d ciphertexts through each of %d nodes", len(led.keys), len(led.sealed), len(clients))
}

// leaseHolder reads who holds the scheduler lease.
func leaseHolder(t *testing.T, storeURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var holder string
	if err := conn.QueryRow(ctx, `SELECT holder FROM leases WHERE name = 'kms-scheduler'`).Scan(&holder); err != nil {
		t.Fatalf("read scheduler lease: %v", err)
	}
	return holder
}
