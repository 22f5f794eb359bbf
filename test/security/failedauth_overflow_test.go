package security

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// A flood of made-up access keys must cost a bounded number of store
// lookups however many addresses it comes from (internal/authfail: the
// node's lookup budget, flood mode, one lookup per address tracked), and
// a client new to the node must still be served. In cluster mode each
// lookup is a PostgreSQL round trip from a pool every node's cache misses
// and writes share: before the budget, a flood of made-up keys from 1,500
// addresses raised a signed client's Encrypt p99 from 7 ms to 167 ms.
//
// The tests count the index and sequential scans of the store's records
// table, one per lookup.

// overflowScans returns the scans of the records table in the schema of
// url so far. A PostgreSQL backend publishes its statistics within 10 s.
func overflowScans(t *testing.T, url string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(),
		`SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables
		 WHERE relname = 'records' AND schemaname = current_schema()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// overflowStatsDelay is how long a PostgreSQL backend may take to
// publish its table statistics.
const overflowStatsDelay = 11 * time.Second

// overflowOwnScans bounds the scans of the records table that nodes make
// of their own (about one a second each) while a flood of d and the wait
// for the statistics last.
func overflowOwnScans(nodes int, d time.Duration) float64 {
	return float64(nodes) * 3 * (d + overflowStatsDelay).Seconds()
}

// overflowFan runs f(0..n-1) on 8 goroutines.
func overflowFan(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// overflowMadeUp sends a request signed with a made-up access key from ip,
// on a connection of its own, and returns the answer.
func overflowMadeUp(t *testing.T, s *Server, ip, akid string) Response {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: connDialer(ip).DialContext, DisableKeepAlives: true}}
	body := []byte("{}")
	req := s.NewKMSRequest(t, "ListKeys", body)
	Sign(t, req, body, Creds{AKID: akid, Secret: "made-up-secret"}, "kms")
	return failedDo(t, hc, req)
}

// TestFailedAuthOverflowLookups (the finding rt-net
// TestFindingOverflowSourcesLookUpEveryKey): the node tracks 1,000
// sources here (failed_auth_sources), all taken by one unsigned request
// each; then 200 further addresses send 25 made-up keys each. They share
// one bucket, and once it is empty their requests are refused before
// verification unless the node's lookup budget (20 a second after a burst
// of 40 here) grants a lookup. Before, every one was verified: 5,000
// requests, 5,012 lookups.
func TestFailedAuthOverflowLookups(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	cfg := connWriteConfig(t, "limits:\n  failed_auth_sources: 1000\n  failed_auth_lookup_rate: 20\n")
	s := Start(t, Opts{Args: []string{"--store", url, "--config", cfg}})
	addr := func(i int) string { return fmt.Sprintf("127.3.%d.%d", i/250, i%250+1) }
	overflowFan(1000, func(i int) {
		hc := failedHTTP(addr(i))
		failedDo(t, hc, s.NewKMSRequest(t, "ListKeys", []byte("{}")))
		hc.CloseIdleConnections()
	})
	time.Sleep(overflowStatsDelay)
	before := overflowScans(t, url)
	var mu sync.Mutex
	answers := map[string]int{}
	start := time.Now()
	overflowFan(200, func(i int) {
		for j := 0; j < 25; j++ {
			r := overflowMadeUp(t, s, addr(1000+i), fmt.Sprintf("AKIAMADEUP%05d%05d", i, j))
			mu.Lock()
			answers[fmt.Sprintf("%d %s", r.Status, r.ErrorType)]++
			mu.Unlock()
		}
	})
	elapsed := time.Since(start)
	time.Sleep(overflowStatsDelay)
	lookups := overflowScans(t, url) - before
	// The budget's burst and rate, the requests in flight when flood mode
	// began (8), and the node's own scans (about one a second: 3 allowed).
	bound := int64(40 + 20*elapsed.Seconds() + 8 + overflowOwnScans(1, elapsed))
	t.Logf("5,000 requests with made-up keys in %v from 200 sources beyond the 1,000 tracked: %d store lookups (bound %d); answers %v",
		elapsed.Round(time.Millisecond), lookups, bound, answers)
	if answers[fmt.Sprintf("%d ThrottlingException", http.StatusBadRequest)] == 0 {
		t.Fatal("the overflow was never throttled: the test did not reach the overflow entry")
	}
	if lookups > bound {
		t.Errorf("%d store lookups for 5,000 requests from sources beyond those tracked, want at most %d", lookups, bound)
	}
}

// TestFailedAuthNewClientDuringFlood: two nodes share a PostgreSQL store.
// Node b is flooded with made-up keys from 1,500 addresses; once in flood
// mode (lookup budget 20/s, burst 40 here), three
// clients whose keys were created on node a, so that node b has never
// seen them, each call from an address of its own, without retries: the
// documented bound for a client new to the node whose address has not
// failed, while fewer addresses flood than the node tracks (65,536), is
// its first request. A client with a key in use keeps working. The flood
// costs at most the budget plus one lookup per flooding address.
func TestFailedAuthNewClientDuringFlood(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	root := randHex(32)
	a := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "a"}})
	const allow = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}`
	var fresh []Creds
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("overflow-new-%d", i)
		_, c := ecUser(t, a, name)
		a.MustQuery(t, Admin, "iam", "Action", "PutUserPolicy", "UserName", name, "PolicyName", "list", "PolicyDocument", allow)
		fresh = append(fresh, c)
	}
	cfg := connWriteConfig(t, "limits:\n  failed_auth_lookup_rate: 20\n")
	b := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "b", "--config", cfg}})
	ctx := context.Background()
	known := b.connKMSKeepAlive(Admin, "127.0.0.1")
	keyID := b.CreateKey(t, Admin, nil)
	encrypt := func() error {
		_, err := known.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: []byte("known client")})
		return err
	}
	if err := encrypt(); err != nil { // the key is cached: no lookups
		t.Fatal(err)
	}
	time.Sleep(overflowStatsDelay)
	before := overflowScans(t, url)

	// The flood runs from 8 goroutines, cycling through the addresses,
	// until the new clients are done and it sent minFlood requests (8
	// from each address), or maxFlood.
	const sources, minFlood, maxFlood = 1500, 12000, 60000
	addr := func(i int) string { return fmt.Sprintf("127.4.%d.%d", i/250, i%250+1) }
	var mu sync.Mutex
	answers := map[string]int{}
	var sent, throttled atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := sent.Add(1) - 1
					select {
					case <-stop:
						if i >= minFlood {
							return
						}
					default:
					}
					if i >= maxFlood {
						return
					}
					r := overflowMadeUp(t, b, addr(int(i)%sources), fmt.Sprintf("AKIAMADEUP%08d", i))
					if r.ErrorType == "ThrottlingException" {
						throttled.Add(1)
					}
					mu.Lock()
					answers[fmt.Sprintf("%d %s", r.Status, r.ErrorType)]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}()
	// A client with a key in use calls throughout.
	var lat []time.Duration
	var knownErr error
	knownDone := make(chan struct{})
	go func() {
		defer close(knownDone)
		for {
			select {
			case <-done:
				return
			default:
			}
			t0 := time.Now()
			if err := encrypt(); err != nil {
				knownErr = err
				return
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// Flood mode: made-up keys are refused unverified.
	WaitFor(t, time.Minute, func() error {
		if n := throttled.Load(); n < 500 {
			return fmt.Errorf("%d requests throttled", n)
		}
		return nil
	})
	for i, c := range fresh {
		ip := fmt.Sprintf("127.5.0.%d", i+1)
		t0 := time.Now()
		_, err := b.connKMS(c, ip).ListKeys(ctx, &kms.ListKeysInput{})
		took := time.Since(t0)
		if err != nil {
			t.Errorf("client new to the node, from %s, during the flood: first request: %v", ip, err)
		} else {
			t.Logf("client new to the node, from %s, during the flood: served at its first request in %v", ip, took.Round(time.Microsecond))
		}
	}
	select {
	case <-done:
		t.Fatal("the flood ended before the new clients were served")
	default:
	}
	close(stop)
	<-done
	elapsed := time.Since(start)
	<-knownDone
	if knownErr != nil {
		t.Errorf("client with a key in use, during the flood: Encrypt: %v", knownErr)
	} else if len(lat) > 0 {
		slices.Sort(lat)
		t.Logf("client with a key in use, during the flood: %d Encrypt calls, p50 %v, p99 %v", len(lat),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	}
	requests := 0
	for _, n := range answers {
		requests += n
	}
	time.Sleep(overflowStatsDelay)
	lookups := overflowScans(t, url) - before
	// One lookup per flooding address (its first made-up key, before it
	// failed), the budget's burst and rate, the requests in flight (8),
	// the new clients' (a few each), and the nodes' own scans.
	bound := int64(sources + 40 + 20*elapsed.Seconds() + 8 + 3*4 + overflowOwnScans(2, elapsed))
	t.Logf("%d requests with made-up keys in %v from %d addresses: %d store lookups (bound %d); answers %v",
		requests, elapsed.Round(time.Millisecond), sources, lookups, bound, answers)
	if lookups > bound {
		t.Errorf("%d store lookups, want at most %d", lookups, bound)
	}
}
