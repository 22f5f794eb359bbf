package console

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// admin returns a KMS client of s signed as the bootstrap administrator.
func (s *trent) admin() *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:   awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.MaxIdleConnsPerHost = 256 }),
		Retryer:      aws.NopRetryer{},
	})
}

// seedKeys creates n symmetric keys with CreateKey over the API, from
// workers goroutines: the way a client would, every key authorized and
// recorded in the trail. It returns how long it took.
func seedKeys(t testing.TB, s *trent, n, workers int) time.Duration {
	t.Helper()
	c := s.admin()
	start := time.Now()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{}); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("seeding: %d of %d CreateKey failed; first: %v", f, n, firstErr.Load())
	}
	return time.Since(start)
}

func TestSeedRate(t *testing.T) {
	s := startTrent(t)
	d := seedKeys(t, s, 5000, 64)
	t.Logf("5000 keys in %v (%.0f/s)", d, 5000/d.Seconds())
}
