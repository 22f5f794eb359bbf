package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/xks"
)

// runXKSProxy runs `trent xks-proxy`: an XKS proxy (AWS External Key Store
// Proxy API v1) over HTTPS, backed by AES keys in a PKCS#11 token, so that
// Trent can serve as the external key store of AWS KMS or of another Trent.
func runXKSProxy(args []string, env config.Env) error {
	fs := flag.NewFlagSet("xks-proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "HTTPS address to listen on")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); required")
	key := fs.String("tls-key", "", "TLS private key (PEM); required")
	module := fs.String("pkcs11-module", env.HSM.Module, "PKCS#11 library (default $TRENT_HSM_MODULE)")
	token := fs.String("pkcs11-token", env.HSM.Token, "token label (default $TRENT_HSM_TOKEN)")
	pinFile := fs.String("pkcs11-pin-file", "", "file holding the token user PIN (default $TRENT_HSM_PIN)")
	region := fs.String("region", "us-east-1", "AWS Region of the KMS that calls this proxy (SigV4 scope)")
	prefix := fs.String("path-prefix", "", "optional URI path prefix before /kms/xks/v1, e.g. /tenant1")
	labelPrefix := fs.String("key-label-prefix", "xks-", "HSM label of external key ID K is PREFIX+K")
	createKeys := fs.String("create-keys", "", "comma-separated external key IDs to generate in the token if missing, then serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		return errors.New("xks-proxy: --tls-cert and --tls-key are required (XKS is HTTPS only)")
	}
	pin := env.HSM.PIN
	if *pinFile != "" {
		b, err := os.ReadFile(*pinFile)
		if err != nil {
			return fmt.Errorf("xks-proxy: PIN file: %w", err)
		}
		pin = strings.TrimRight(string(b), "\r\n")
	}
	// Credential sets: TRENT_XKS_ACCESS_KEY_ID / TRENT_XKS_SECRET_ACCESS_KEY,
	// plus an optional second set (…_2) while credentials rotate.
	var creds []xks.Credential
	for _, c := range env.XKSProxyCredentials {
		creds = append(creds, xks.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey})
	}
	if len(creds) == 0 {
		return errors.New("xks-proxy: set TRENT_XKS_ACCESS_KEY_ID and TRENT_XKS_SECRET_ACCESS_KEY")
	}
	tok, err := hsm.Open(hsm.Config{Module: *module, TokenLabel: *token, PIN: pin})
	if err != nil {
		return fmt.Errorf("xks-proxy: %w", err)
	}
	defer tok.Close()
	for _, id := range strings.Split(*createKeys, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if _, err := tok.GenerateAESKey(*labelPrefix + id); err != nil && !errors.Is(err, hsm.ErrKeyExists) {
			return fmt.Errorf("xks-proxy: create external key %s: %w", id, err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := xks.NewProxy(xks.ProxyConfig{Token: tok, PathPrefix: *prefix, Region: *region, Credentials: creds,
		KeyLabelPrefix: *labelPrefix, Logger: log})
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return fmt.Errorf("xks-proxy: TLS: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	log.Info("xks proxy listening", "url", "https://"+ln.Addr().String()+*prefix+"/kms/xks/v1")
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
