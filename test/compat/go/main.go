package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// target is the endpoint and credential under test, read from the environment.
type target struct {
	endpoint, region, accessKey, secretKey string
}

func targetFromEnv() (target, error) {
	t := target{
		endpoint:  os.Getenv("COMPAT_ENDPOINT"),
		region:    os.Getenv("AWS_REGION"),
		accessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		secretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	if t.region == "" {
		t.region = "us-east-1"
	}
	if t.endpoint == "" || t.accessKey == "" || t.secretKey == "" {
		return t, fmt.Errorf("COMPAT_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	return t, nil
}

// newKMS returns an aws-sdk-go-v2 KMS client bound to the target. It uses
// awshttp.NewBuildableClient because the SDK refuses a plain *http.Client
// when AWS_CA_BUNDLE is set, as it is on the CI image.
func newKMS(ctx context.Context, t target, secretKey string) (*kms.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(t.region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(t.accessKey, secretKey, "")),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(30*time.Second)),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(t.endpoint)
	}), nil
}

// check is one named compatibility check of one client.
type check struct {
	client, what string
	run          func(ctx context.Context) error
}

type runner struct{ passed, failed int }

func (r *runner) run(ctx context.Context, c check) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := c.run(ctx)
	if err != nil {
		r.failed++
		msg := strings.Join(strings.Fields(err.Error()), " ")
		if len(msg) > 400 {
			msg = msg[:400] + "..."
		}
		fmt.Printf("FAIL %s: %s: %s\n", c.client, c.what, msg)
		return false
	}
	r.passed++
	fmt.Printf("PASS %s: %s\n", c.client, c.what)
	return true
}

func main() {
	only := flag.String("only", "", "comma-separated clients to run: sdk, tink, seal (default all)")
	flag.Parse()
	t, err := targetFromEnv()
	if err != nil {
		fmt.Printf("FAIL go: %v\n", err)
		os.Exit(1)
	}
	ctx := context.Background()
	want := func(name string) bool {
		return *only == "" || strings.Contains(","+*only+",", ","+name+",")
	}
	r := &runner{}
	if want("sdk") {
		r.runAll(ctx, sdkChecks(t))
	}
	if want("tink") {
		r.runAll(ctx, tinkChecks(t))
	}
	if want("seal") {
		r.runAll(ctx, sealChecks(t))
	}
	if r.failed > 0 {
		os.Exit(1)
	}
}

// runAll runs checks in order; a check whose name starts with "setup" stops
// the rest of its group when it fails, because they depend on it.
func (r *runner) runAll(ctx context.Context, cs []check) {
	for _, c := range cs {
		if !r.run(ctx, c) && strings.HasPrefix(c.what, "setup") {
			return
		}
	}
}
