package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/k8skms"
)

// runK8sKMSPlugin serves the Kubernetes KMS v2 API on a unix socket, wrapping
// kube-apiserver's seeds with a key of a Trent endpoint. The credentials are
// the AWS SDK's default chain (AWS_* variables, the shared config and
// credentials files and their profiles, web identity, container and instance
// roles): the plugin is an AWS KMS client like any other.
func runK8sKMSPlugin(args []string) error {
	fs := flag.NewFlagSet("k8s-kms-plugin", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket to serve on (created with mode 0600; its directory must exist), e.g. /var/run/kmsplugin/trent.sock")
	endpoint := fs.String("endpoint", "", "Trent endpoint URL, e.g. https://trent.example:8443")
	keyID := fs.String("key-id", "", "the Trent key: key ID, key ARN, alias name (alias/NAME) or alias ARN")
	cluster := fs.String("cluster-name", "", "the cluster's name: every ciphertext is bound to it by the encryption context {\"k8s-kms-plugin\": NAME}")
	region := fs.String("region", "", "AWS Region of the endpoint (default: the key ARN's, else the SDK's: AWS_REGION, the profile)")
	profile := fs.String("profile", "", "shared config profile for the credentials (default: AWS_PROFILE or default)")
	timeout := fs.Duration("timeout", k8skms.DefaultTimeout, "bound on each call to Trent; keep it below the EncryptionConfiguration's timeout (3s by default)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("k8s-kms-plugin: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *socket == "":
		return errors.New("k8s-kms-plugin: --socket is required")
	case *endpoint == "":
		return errors.New("k8s-kms-plugin: --endpoint is required (the Trent URL)")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("k8s-kms-plugin: --log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *region == "" {
		// arn:PARTITION:kms:REGION:ACCOUNT:...
		if f := strings.SplitN(*keyID, ":", 6); len(f) == 6 && f[0] == "arn" {
			*region = f[3]
		}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if *region != "" {
		opts = append(opts, awsconfig.WithRegion(*region))
	}
	if *profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(*profile))
	}
	// kube-apiserver retries a failed call itself; one retry here covers a
	// dropped keep-alive connection without stretching past its timeout.
	opts = append(opts, awsconfig.WithRetryMaxAttempts(2))
	ctx := context.Background()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("k8s-kms-plugin: AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return errors.New("k8s-kms-plugin: no Region: pass --region, a key ARN, or set AWS_REGION")
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(*endpoint) })

	p, err := k8skms.New(k8skms.Config{
		KeyID: *keyID, Cluster: *cluster, Timeout: *timeout, Log: log,
		Backend: k8skms.Remote{Client: client},
	})
	if err != nil {
		return err
	}
	srv, err := k8skms.Listen(*socket, p)
	if err != nil {
		return err
	}
	// The first status says at once whether the key is usable; the plugin
	// serves either way (kube-apiserver waits for it to become healthy).
	if st, _ := p.Status(ctx); st != nil {
		log.Info("k8s-kms-plugin: serving", "socket", srv.Path(), "endpoint", *endpoint, "key", *keyID, "cluster", *cluster, "healthz", st.Healthz, "key_id", st.KeyID)
	}
	fmt.Println("socket:", srv.Path())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		return err
	case s := <-sig:
		log.Info("k8s-kms-plugin: stopping", "signal", s.String())
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Stop(stopCtx)
		return <-done
	}
}
