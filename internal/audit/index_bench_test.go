package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// writeBenchTrail writes n records of a month of KMS calls on one node into
// dir, as the Log lays them out (hash chain, 64 MiB segments), without
// fsyncs.
func writeBenchTrail(b *testing.B, dir string, n int, base time.Time) {
	b.Helper()
	const node = "bench"
	step := 30 * 24 * time.Hour / time.Duration(n)
	prev := genesis(node)
	var (
		f    *os.File
		w    *bufio.Writer
		size int64
		line []byte
	)
	closeSeg := func() {
		if f != nil {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	names := []string{"Encrypt", "Decrypt", "GenerateDataKey", "Decrypt", "Decrypt", "ReEncrypt", "DescribeKey", "CreateGrant"}
	for i := range n {
		t := base.Add(time.Duration(i) * step)
		if f == nil || size >= DefaultMaxSegmentBytes {
			closeSeg()
			var err error
			f, err = os.Create(filepath.Join(dir, segmentName(node, uint64(i+1), t)))
			if err != nil {
				b.Fatal(err)
			}
			w, size = bufio.NewWriterSize(f, 1<<20), 0
		}
		arn := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-aaaa-bbbb-cccc-000000000000", i%100)
		user := fmt.Sprintf("user%02d", i%20)
		e := &Event{
			EventVersion: EventVersion,
			UserIdentity: &UserIdentity{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE" + user, ARN: "arn:aws:iam::111122223333:user/" + user,
				AccountID: "111122223333", AccessKeyID: fmt.Sprintf("AKIA%016d", i%20), UserName: user},
			EventTime: t.UTC().Format(time.RFC3339), EventSource: EventSource, EventName: names[i%len(names)],
			AWSRegion: "us-east-1", SourceIPAddress: "10.0.0.1", UserAgent: "aws-sdk-go-v2/1.30.0",
			RequestParameters: map[string]any{"keyId": arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
			RequestID:         fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), EventID: fmt.Sprintf("%08x-1111-4000-8000-%012x", i, i),
			ReadOnly: true, Resources: []Resource{{AccountID: "111122223333", Type: ResourceTypeKMSKey, ARN: arn}},
			EventType: EventTypeAPICall, ManagementEvent: true, RecipientAccountID: "111122223333", EventCategory: EventCategory,
		}
		ev, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		h := chainHash(prev, uint64(i+1), ev)
		line = appendRecord(line[:0], uint64(i+1), prev, h, ev)
		prev = h
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		size += int64(len(line))
	}
	closeSeg()
}

// BenchmarkIndex1M looks up a month of trail, one million records, through
// the Index: each lookup refreshes the index (nothing new) and reads only
// the records it returns. Run with -bench Index1M -benchtime 200x; writing
// the trail (about 0.8 GB, removed after) and indexing it take a minute.
func BenchmarkIndex1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	writeBenchTrail(b, dir, n, base)
	b.Logf("wrote %d records in %v", n, time.Since(start).Round(time.Millisecond))
	x := NewIndex(dir)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start = time.Now()
	if err := x.Refresh(); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if x.Records() != n {
		b.Fatalf("indexed %d records, want %d", x.Records(), n)
	}
	b.Logf("indexed %d records in %v, %d MB of heap", n, took.Round(time.Millisecond), (after.HeapAlloc-before.HeapAlloc)>>20)

	acct := "111122223333"
	day := func(d int) (time.Time, time.Time) {
		s := base.Add(time.Duration(d) * 24 * time.Hour)
		return s, s.Add(24*time.Hour - time.Second)
	}
	s14, e14 := day(14)
	s3, e3 := day(3)
	deep := Query{Account: acct, Key: LookupEventName, Value: "Decrypt", Limit: 50}
	for range 20 { // the cursor of the 21st page
		_, next, err := x.Lookup(deep)
		if err != nil || next == nil {
			b.Fatal(err)
		}
		deep.After = next
	}
	for _, c := range []struct {
		name string
		q    Query
		want int
	}{
		{"newest-50", Query{Account: acct, Limit: 50}, 50},
		{"EventName/newest-50", Query{Account: acct, Key: LookupEventName, Value: "Encrypt", Limit: 50}, 50},
		{"EventName/day-14", Query{Account: acct, Key: LookupEventName, Value: "Encrypt", Start: s14, End: e14, Limit: 50}, 50},
		{"Username/day-3", Query{Account: acct, Key: LookupUsername, Value: "user07", Start: s3, End: e3, Limit: 50}, 50},
		{"ResourceName/day-14", Query{Account: acct, Key: LookupResourceName, Value: "arn:aws:kms:us-east-1:111122223333:key/00000042-aaaa-bbbb-cccc-000000000000", Start: s14, End: e14, Limit: 50}, 50},
		{"EventId", Query{Account: acct, Key: LookupEventID, Value: fmt.Sprintf("%08x-1111-4000-8000-%012x", 123456, 123456), Limit: 50}, 1},
		{"EventName/page-21", deep, 50},
		{"absent-user", Query{Account: acct, Key: LookupUsername, Value: "nobody", Limit: 50}, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				found, _, err := x.Lookup(c.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(found) != c.want {
					b.Fatalf("%d records, want %d", len(found), c.want)
				}
			}
		})
	}
}
