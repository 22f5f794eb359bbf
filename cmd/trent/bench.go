package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/bench"
	"github.com/trentkms/trent/internal/config"
)

// runBench implements "trent bench": closed-loop load against any
// AWS-KMS-compatible endpoint. It prints progress to stderr and the result
// to stdout (one JSON object with --json). It returns an error for bad flags
// or a failed setup, not for errors counted during the load.
func runBench(args []string, env config.Env) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		cfg      bench.Config
		op       = fs.String("op", "", "operation: "+strings.Join(bench.Ops, ", "))
		mix      = fs.String("mix", "", "weighted operation mix, e.g. Encrypt=5,Decrypt=5,GenerateDataKey=1")
		asJSON   = fs.Bool("json", false, "print the result as one JSON object")
		quiet    = fs.Bool("quiet", false, "no per-second progress lines")
		duration = fs.Duration("duration", 0, "measured run length (default 10s unless --requests is set)")
	)
	fs.StringVar(&cfg.Endpoint, "endpoint", "", "endpoint URL, e.g. http://127.0.0.1:8080 (required)")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "signing region")
	fs.StringVar(&cfg.AccessKeyID, "access-key", firstSet(env.AWSAccessKeyID, env.AccessKeyID), "access key ID (default $AWS_ACCESS_KEY_ID or $TRENT_ACCESS_KEY_ID)")
	fs.StringVar(&cfg.SecretAccessKey, "secret-key", "", "secret access key (default $AWS_SECRET_ACCESS_KEY or $TRENT_SECRET_ACCESS_KEY)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent workers (closed loop)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "measured requests in total (instead of --duration)")
	fs.IntVar(&cfg.Size, "size", 1024, "plaintext/message bytes")
	fs.StringVar(&cfg.KeyID, "key", "", "key ID, ARN or alias for every operation (default: create suitable keys)")
	fs.IntVar(&cfg.Keys, "keys", 0, "spread Encrypt/GenerateDataKey/DescribeKey over this many new symmetric keys (large key cache)")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured load before the measured run")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "skip TLS certificate verification")
	fs.BoolVar(&cfg.NetHTTP, "nethttp", false, "send load through net/http's client (costs the client about twice the CPU)")
	fs.StringVar(&cfg.CAFile, "ca", "", "PEM CA bundle to verify the endpoint's certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if cfg.SecretAccessKey == "" {
		// Read from the environment only here so that the secret never
		// shows up as a flag default in --help.
		cfg.SecretAccessKey = firstSet(env.AWSSecretAccessKey, env.SecretAccessKey)
	}
	cfg.SessionToken = env.AWSSessionToken
	switch {
	case *op != "" && *mix != "":
		return errors.New("bench: give --op or --mix, not both")
	case *op == "" && *mix == "":
		*op = "Encrypt"
		fallthrough
	case *op != "":
		*mix = *op
	}
	m, err := bench.ParseMix(*mix)
	if err != nil {
		return err
	}
	cfg.Mix = m
	cfg.Duration = *duration
	if cfg.Duration == 0 && cfg.Requests == 0 {
		cfg.Duration = 10 * time.Second
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		return enc.Encode(res)
	}
	res.WriteText(os.Stdout)
	return nil
}

// firstSet returns the first of values that is not empty, or "".
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
