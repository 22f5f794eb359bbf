package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends with 1, 16 and 64 concurrent
// appenders (one op = one durable record) and reports records/s and
// fsyncs per record: group commit should drive the latter well below 1.
func BenchmarkAppend(b *testing.B) {
	for _, g := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("appenders=%d", g), func(b *testing.B) {
			l := openLog(b, testOptions(b.TempDir(), "bench"))
			defer l.Close()
			e := testEvent(1, time.Now())
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := l.Append(context.Background(), e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Records)/el.Seconds(), "records/s")
			b.ReportMetric(float64(st.Syncs)/float64(st.Records), "fsyncs/record")
		})
	}
}

// BenchmarkNoAudit is the baseline for BenchmarkAppend: the work a server
// does for an event without a trail (encoding it).
func BenchmarkNoAudit(b *testing.B) {
	e := testEvent(1, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRecord measures the verifier's per-record cost.
func BenchmarkParseRecord(b *testing.B) {
	ev, _ := json.Marshal(testEvent(1, time.Now()))
	g := genesis("n")
	line := bytes.TrimSuffix(appendRecord(nil, 1, g, chainHash(g, 1, ev), ev), []byte("\n"))
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := parseRecord(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSafeParameters measures the redaction helper on an Encrypt
// request.
func BenchmarkSafeParameters(b *testing.B) {
	p := map[string]any{"KeyId": "alias/x", "Plaintext": "AAAA", "EncryptionContext": map[string]any{"a": "b"}, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	b.ReportAllocs()
	for b.Loop() {
		SafeParameters("Encrypt", p)
	}
}
