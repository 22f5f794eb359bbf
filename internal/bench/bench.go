package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trentkms/trent/internal/sigv4"
)

// Config describes one load run. Endpoint, AccessKeyID, SecretAccessKey, Mix
// and one of Duration or Requests are required; the rest have defaults.
type Config struct {
	Endpoint        string // base URL, e.g. http://127.0.0.1:8080
	Region          string // default us-east-1
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Mix             Mix
	Concurrency     int           // workers; default 64
	Duration        time.Duration // measured phase length, if Requests is 0
	Requests        int64         // total measured requests, if > 0
	Size            int           // plaintext/message bytes; default 1024
	KeyID           string        // key for every operation; empty: create suitable keys
	// Keys, when above 1, spreads Encrypt, GenerateDataKey and DescribeKey
	// over that many symmetric keys (created during setup, deleted after),
	// picked at random per request: the hot path with a large key cache.
	Keys     int
	Warmup   time.Duration // unmeasured load before the measured phase
	Insecure bool          // skip TLS verification
	CAFile   string        // PEM CA bundle for TLS
	// NetHTTP sends the load through net/http's Transport instead of raw
	// per-worker connections: slower on the client, for comparison.
	NetHTTP bool
	// Progress receives one line per second while load runs; nil for none.
	Progress io.Writer
	// Transport, if set, carries every request through net/http with this
	// RoundTripper. By default setup uses a tuned http.Transport and the
	// load workers each keep one raw HTTP/1.1 connection (see rawConn).
	Transport http.RoundTripper
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// Result is the outcome of a run; it marshals to the --json output.
type Result struct {
	Endpoint          string            `json:"endpoint"`
	Mix               string            `json:"mix"`
	Concurrency       int               `json:"concurrency"`
	Size              int               `json:"size"`
	Requests          uint64            `json:"requests"`
	Succeeded         uint64            `json:"succeeded"`
	Errors            map[string]uint64 `json:"errors"`
	PerOp             map[string]uint64 `json:"per_op"`
	DurationSeconds   float64           `json:"duration_s"`
	RequestsPerSecond float64           `json:"requests_per_s"`
	Latency           Latency           `json:"latency"`
	// ClientCPUMicrosPerRequest is this process's CPU time (user+system)
	// during the measured phase divided by the requests sent. It includes
	// anything else running in the process (an in-process test server).
	ClientCPUMicrosPerRequest float64 `json:"client_cpu_us_per_request"`
}

// Run sets up keys and inputs, applies the warm-up load, then the measured
// load, and returns the result. Setup failures (a refused CreateKey, an
// unreachable endpoint) are returned as errors; failures during load are
// counted in Result.Errors. Cancelling ctx ends the run early with the
// result so far. Keys Run created are scheduled for deletion (7 days) at the
// end.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: endpoint %q must be an http or https URL", cfg.Endpoint)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	rt := cfg.Transport
	var raw *rawTarget
	if rt == nil {
		tlsConf, err := tlsConfig(cfg.Insecure, cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := newTransport(cfg.Concurrency, tlsConf)
		defer tr.CloseIdleConnections()
		rt = tr
		if !cfg.NetHTTP {
			raw = &rawTarget{u: u, tlsCfg: tlsConf}
		}
	}
	c := &client{
		url: u.String(),
		hc:  &http.Client{Transport: rt, Timeout: time.Minute},
		signer: &sigv4.Signer{
			AccessKeyID: cfg.AccessKeyID, Secret: []byte(cfg.SecretAccessKey), SessionToken: cfg.SessionToken,
			Region: cfg.Region, Service: "kms",
		},
		raw: raw,
	}
	s, err := prepare(ctx, c, &cfg)
	if s != nil {
		defer s.cleanup(c)
	}
	if err != nil {
		return nil, err
	}

	if cfg.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Warmup+time.Minute)
		runLoad(wctx, c, s, &cfg, cfg.Warmup, 0, nil)
		cancel()
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	ws := runLoad(ctx, c, s, &cfg, cfg.Duration, cfg.Requests, cfg.Progress)
	elapsed := time.Since(start)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)

	res := &Result{
		Endpoint: cfg.Endpoint, Mix: cfg.Mix.String(), Concurrency: cfg.Concurrency, Size: cfg.Size,
		Errors: map[string]uint64{}, PerOp: map[string]uint64{}, DurationSeconds: elapsed.Seconds(),
	}
	var h Histogram
	for _, w := range ws {
		h.Merge(&w.hist)
		for k, v := range w.errors {
			res.Errors[string(k)] += v
		}
		for i, n := range w.perOp {
			res.PerOp[cfg.Mix[i].Op] += n
		}
	}
	res.Requests = h.Count()
	var nerr uint64
	for _, v := range res.Errors {
		nerr += v
	}
	res.Succeeded = res.Requests - nerr
	if elapsed > 0 {
		res.RequestsPerSecond = float64(res.Requests) / elapsed.Seconds()
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	res.Latency = Latency{
		Min: ms(h.Min()), Mean: ms(h.Mean()), P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max()),
	}
	if res.Requests > 0 {
		cpu := tvDur(ru1.Utime) + tvDur(ru1.Stime) - tvDur(ru0.Utime) - tvDur(ru0.Stime)
		res.ClientCPUMicrosPerRequest = float64(cpu.Microseconds()) / float64(res.Requests)
	}
	return res, nil
}

func tvDur(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

func (cfg *Config) defaults() error {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Size <= 0 {
		cfg.Size = 1024
	}
	switch {
	case cfg.Endpoint == "":
		return errors.New("bench: an endpoint is required")
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return errors.New("bench: an access key ID and secret access key are required")
	case len(cfg.Mix) == 0:
		return errors.New("bench: an operation or mix is required")
	case cfg.Duration <= 0 && cfg.Requests <= 0:
		return errors.New("bench: a duration or a request count is required")
	}
	return nil
}

// setup holds the precomputed request body of every operation in the mix.
type setup struct {
	bodies [][]byte // indexed like Config.Mix
	// spread holds, per Mix entry, one body per key when Config.Keys > 1.
	spread  [][][]byte
	created []string // key IDs created by prepare
}

func (s *setup) cleanup(c *client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range s.created {
		_ = c.call(ctx, "ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7}, nil)
	}
}

type keyMetadataResponse struct {
	KeyMetadata struct {
		KeyID string `json:"KeyId"`
		Arn   string `json:"Arn"`
	} `json:"KeyMetadata"`
}

// prepare creates the keys the mix needs (unless cfg.KeyID is set) and
// builds every request body, running Encrypt and Sign once where Decrypt,
// ReEncrypt or Verify need their output.
func prepare(ctx context.Context, c *client, cfg *Config) (*setup, error) {
	s := &setup{}
	keyFor := map[string]string{} // key class -> key ID
	need := func(class string) (string, error) {
		if cfg.KeyID != "" {
			return cfg.KeyID, nil
		}
		if id, ok := keyFor[class]; ok {
			return id, nil
		}
		req := map[string]any{"Description": "trent bench " + class}
		switch class {
		case "sign":
			req["KeySpec"], req["KeyUsage"] = "RSA_2048", "SIGN_VERIFY"
		case "mac":
			req["KeySpec"], req["KeyUsage"] = "HMAC_256", "GENERATE_VERIFY_MAC"
		default:
			req["KeySpec"], req["KeyUsage"] = "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"
		}
		var out keyMetadataResponse
		if err := c.call(ctx, "CreateKey", req, &out); err != nil {
			return "", err
		}
		id := out.KeyMetadata.Arn
		if id == "" {
			id = out.KeyMetadata.KeyID
		}
		if id == "" {
			return "", errors.New("bench: CreateKey returned no key ID")
		}
		keyFor[class] = id
		s.created = append(s.created, id)
		return id, nil
	}

	data := make([]byte, cfg.Size)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	blob := base64.StdEncoding.EncodeToString(data)
	var ciphertext, signature string

	for _, w := range cfg.Mix {
		var body any
		switch w.Op {
		case "Encrypt", "Decrypt", "ReEncrypt":
			key, err := need("symmetric")
			if err != nil {
				return s, err
			}
			if w.Op == "Encrypt" {
				body = map[string]any{"KeyId": key, "Plaintext": blob}
				break
			}
			if ciphertext == "" {
				var out struct{ CiphertextBlob string }
				if err := c.call(ctx, "Encrypt", map[string]any{"KeyId": key, "Plaintext": blob}, &out); err != nil {
					return s, err
				}
				ciphertext = out.CiphertextBlob
			}
			if w.Op == "Decrypt" {
				body = map[string]any{"KeyId": key, "CiphertextBlob": ciphertext}
			} else {
				body = map[string]any{"CiphertextBlob": ciphertext, "DestinationKeyId": key}
			}
		case "GenerateDataKey":
			key, err := need("symmetric")
			if err != nil {
				return s, err
			}
			body = map[string]any{"KeyId": key, "KeySpec": "AES_256"}
		case "DescribeKey":
			key, err := need("symmetric")
			if err != nil {
				return s, err
			}
			body = map[string]any{"KeyId": key}
		case "Sign", "Verify":
			key, err := need("sign")
			if err != nil {
				return s, err
			}
			req := map[string]any{"KeyId": key, "Message": blob, "MessageType": "RAW", "SigningAlgorithm": "RSASSA_PSS_SHA_256"}
			if w.Op == "Verify" {
				if signature == "" {
					var out struct{ Signature string }
					if err := c.call(ctx, "Sign", req, &out); err != nil {
						return s, err
					}
					signature = out.Signature
				}
				req["Signature"] = signature
			}
			body = req
		case "GenerateMac":
			key, err := need("mac")
			if err != nil {
				return s, err
			}
			body = map[string]any{"KeyId": key, "Message": blob, "MacAlgorithm": "HMAC_SHA_256"}
		case "CreateKey":
			body = map[string]any{"Description": "trent bench CreateKey load"}
		default:
			return s, fmt.Errorf("bench: unknown operation %q", w.Op)
		}
		b, err := json.Marshal(body)
		if err != nil {
			return s, err
		}
		s.bodies = append(s.bodies, b)
	}
	if cfg.Keys > 1 && cfg.KeyID == "" {
		if err := spreadKeys(ctx, c, cfg, s, blob); err != nil {
			return s, err
		}
	}
	return s, nil
}

// spreadKeys creates cfg.Keys symmetric keys (16 at a time) and one body per
// key for each Encrypt, GenerateDataKey and DescribeKey entry of the mix.
func spreadKeys(ctx context.Context, c *client, cfg *Config, s *setup, blob string) error {
	ids := make([]string, cfg.Keys)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) || firstErr.Load() != nil {
					return
				}
				var out keyMetadataResponse
				if err := c.call(ctx, "CreateKey", map[string]any{"Description": "trent bench spread"}, &out); err != nil {
					firstErr.Store(&err)
					return
				}
				ids[i] = out.KeyMetadata.Arn
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" {
			s.created = append(s.created, id)
		}
	}
	if p := firstErr.Load(); p != nil {
		return *p
	}
	s.spread = make([][][]byte, len(cfg.Mix))
	for i, w := range cfg.Mix {
		for _, id := range ids {
			var body any
			switch w.Op {
			case "Encrypt":
				body = map[string]any{"KeyId": id, "Plaintext": blob}
			case "GenerateDataKey":
				body = map[string]any{"KeyId": id, "KeySpec": "AES_256"}
			case "DescribeKey":
				body = map[string]any{"KeyId": id}
			default:
				continue
			}
			b, err := json.Marshal(body)
			if err != nil {
				return err
			}
			s.spread[i] = append(s.spread[i], b)
		}
	}
	return nil
}

// worker is one closed-loop client with its own statistics.
type worker struct {
	hist   Histogram
	errors map[outcome]uint64
	perOp  []uint64
}

// runLoad runs cfg.Concurrency workers until dur has passed (if requests is
// 0) or requests have been sent, or ctx ends. In-flight requests are allowed
// to finish when time is up, so the end of a run causes no errors.
func runLoad(ctx context.Context, c *client, s *setup, cfg *Config, dur time.Duration, requests int64, progress io.Writer) []*worker {
	var stop atomic.Bool
	var issued, done, failed atomic.Int64
	if requests <= 0 {
		t := time.AfterFunc(dur, func() { stop.Store(true) })
		defer t.Stop()
	}
	go func() {
		<-ctx.Done()
		stop.Store(true)
	}()
	tick := make(chan struct{})
	if progress != nil {
		go func() {
			start := time.Now()
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			var last int64
			for {
				select {
				case <-tick:
					return
				case now := <-tk.C:
					n := done.Load()
					fmt.Fprintf(progress, "[%4.0fs] %8d req/s  total %9d  errors %d\n",
						now.Sub(start).Seconds(), n-last, n, failed.Load())
					last = n
				}
			}
		}()
	}

	p := newPicker(cfg.Mix)
	ws := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{errors: map[outcome]uint64{}, perOp: make([]uint64, len(cfg.Mix))}
		ws[i] = w
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, 0x5eed))
			var buf bytes.Buffer
			var rc *rawConn
			if c.raw != nil {
				rc = newRawConn(c.raw.u, c.raw.tlsCfg, c.signer)
				defer rc.close()
			}
			// The request context is not ctx: cancelling the run must not
			// turn in-flight requests into errors.
			rctx := context.Background()
			for !stop.Load() {
				if requests > 0 && issued.Add(1) > requests {
					return
				}
				op := 0
				if len(cfg.Mix) > 1 {
					op = p.pick(rnd.IntN(p.total))
				}
				body := s.bodies[op]
				if s.spread != nil && len(s.spread[op]) > 0 {
					body = s.spread[op][rnd.IntN(len(s.spread[op]))]
				}
				t0 := time.Now()
				var name outcome
				if rc != nil {
					name, _ = rc.do(cfg.Mix[op].Op, body, &buf)
				} else {
					name, _ = c.do(rctx, cfg.Mix[op].Op, body, &buf)
				}
				w.hist.Record(time.Since(t0))
				w.perOp[op]++
				done.Add(1)
				if name != "" {
					w.errors[name]++
					failed.Add(1)
				}
			}
		}(uint64(i))
	}
	wg.Wait()
	close(tick)
	return ws
}

// WriteText writes a human-readable summary of r.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "endpoint     %s\n", r.Endpoint)
	fmt.Fprintf(w, "mix          %s  concurrency %d  size %d B\n", r.Mix, r.Concurrency, r.Size)
	fmt.Fprintf(w, "requests     %d in %.2f s: %.0f req/s (%d ok)\n", r.Requests, r.DurationSeconds, r.RequestsPerSecond, r.Succeeded)
	fmt.Fprintf(w, "latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f)\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Latency.Mean)
	fmt.Fprintf(w, "client CPU   %.1f µs/request\n", r.ClientCPUMicrosPerRequest)
	if len(r.PerOp) > 1 {
		for _, op := range sortedKeys(r.PerOp) {
			fmt.Fprintf(w, "  %-16s %d\n", op, r.PerOp[op])
		}
	}
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors       none")
		return
	}
	fmt.Fprintln(w, "errors")
	for _, k := range sortedKeys(r.Errors) {
		fmt.Fprintf(w, "  %-40s %d\n", k, r.Errors[k])
	}
}

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
