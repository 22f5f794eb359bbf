package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/devapi"
	"github.com/trentkms/trent/internal/devclock"
	"github.com/trentkms/trent/internal/sigv4"
)

const devClockUsage = `usage: trent admin dev-clock advance STEP --endpoint-url URL [flags]
       trent admin dev-clock show --endpoint-url URL [flags]

Moves the domain clock of a server started with trent serve --dev forward
by STEP (7d, 36h, 90m; whole seconds), or shows it. The call is signed with
the credentials of the administrator account's root, the only principal the
server lets move its clock: --access-key, else $AWS_ACCESS_KEY_ID or
$TRENT_ACCESS_KEY_ID, with the secret from $AWS_SECRET_ACCESS_KEY or
$TRENT_SECRET_ACCESS_KEY. The clock never goes back.
`

// adminDevClock is trent admin dev-clock: a client of the development API
// (internal/devapi), not an offline command like the rest of admin.
func adminDevClock(args []string, env config.Env, out io.Writer) error {
	fs := flag.NewFlagSet("admin dev-clock", flag.ContinueOnError)
	endpoint := fs.String("endpoint-url", "", "the server's endpoint, e.g. http://127.0.0.1:8080 (required)")
	region := fs.String("region", config.DefaultRegion, "signing Region: the server's")
	akid := fs.String("access-key", firstSet(env.AWSAccessKeyID, env.AccessKeyID), "access key ID of the administrator account's root")
	caFile := fs.String("ca", "", "PEM CA bundle to verify the endpoint's certificate")
	// Flags may come before or after the words.
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var body []byte
	op := ""
	switch {
	case len(words) == 2 && words[0] == "advance":
		step, err := devclock.ParseStep(words[1])
		if err != nil {
			return err
		}
		if step <= 0 || step%time.Second != 0 {
			return fmt.Errorf("dev-clock: step %s: the clock advances by a positive whole number of seconds", step)
		}
		op = "AdvanceClock"
		body, _ = json.Marshal(map[string]int64{"Seconds": int64(step / time.Second)})
	case len(words) == 1 && words[0] == "show":
		op, body = "GetClock", []byte("{}")
	default:
		fmt.Fprint(os.Stderr, devClockUsage)
		return errors.New("admin dev-clock: want advance STEP or show")
	}
	if *endpoint == "" {
		return errors.New("admin dev-clock: --endpoint-url is required")
	}
	secret := firstSet(env.AWSSecretAccessKey, env.SecretAccessKey)
	if *akid == "" || secret == "" {
		return errors.New("admin dev-clock: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the administrator account root's access key")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("admin dev-clock: %s holds no PEM certificate", *caFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", devapi.TargetPrefix+"."+op)
	sigv4.Sign(req, body, *akid, []byte(secret), env.AWSSessionToken, *region, "kms", time.Now())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(data, &e)
		if e.Type == "UnknownOperationException" {
			return fmt.Errorf("admin dev-clock: %s: the server does not serve the development API: start it with trent serve --dev", e.Type)
		}
		return fmt.Errorf("admin dev-clock: %s: %s", e.Type, e.Message)
	}
	var c devapi.ClockOutput
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("admin dev-clock: answer: %w", err)
	}
	fmt.Fprintf(out, "development clock: %s (%s ahead of the wall clock)\n",
		time.Unix(c.Now, 0).UTC().Format(time.RFC3339), time.Duration(c.OffsetSeconds)*time.Second)
	return nil
}
