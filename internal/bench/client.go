package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/sigv4"
)

// client sends signed AWS JSON 1.1 requests to one endpoint.
type client struct {
	url    string
	hc     *http.Client
	signer *sigv4.Signer
	// raw, when set, makes load workers use their own rawConn instead of
	// hc; setup requests always go through hc.
	raw *rawTarget
}

// rawTarget is what a rawConn needs to reach the endpoint.
type rawTarget struct {
	u      *url.URL
	tlsCfg *tls.Config
}

// newTransport returns a transport tuned for a closed loop of conc workers
// against one host: enough idle connections that none is ever closed and
// reopened, no proxy, no compression, HTTP/1.1 as the AWS SDKs use it.
func newTransport(conc int, tlsConf *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conc,
		MaxIdleConnsPerHost:   2 * conc,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		TLSClientConfig:       tlsConf,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
		ExpectContinueTimeout: 0,
	}
}

// tlsConfig returns the client TLS configuration for the flags.
func tlsConfig(insecure bool, caFile string) (*tls.Config, error) {
	tlsConf := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // opt-in flag for self-signed test servers
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("bench: reading CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bench: no certificates in CA bundle %s", caFile)
		}
		tlsConf.RootCAs = pool
	}
	return tlsConf, nil
}

// outcome is the result of one request: "" for success, else the error name.
type outcome string

// do sends one request and reads the response into buf (reset first). It
// returns the error name for a non-2xx answer or a transport failure.
func (c *client) do(ctx context.Context, op string, body []byte, buf *bytes.Buffer) (outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header["Content-Type"] = []string{"application/x-amz-json-1.1"}
	req.Header["X-Amz-Target"] = []string{"TrentService." + op}
	c.signer.Sign(req, body, time.Now())
	resp, err := c.hc.Do(req)
	if err != nil {
		return "NetworkError", err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "NetworkError", err
	}
	if resp.StatusCode/100 == 2 {
		return "", nil
	}
	return errorName(resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), buf.Bytes()), nil
}

// errorName extracts the exception name the way the SDKs do: from "__type"
// (or the X-Amzn-ErrorType header), without a "namespace#" prefix or a
// ":"-suffix.
func errorName(status int, hdr string, body []byte) outcome {
	var e struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	name := hdr
	if json.Unmarshal(body, &e) == nil {
		if e.Type != "" {
			name = e.Type
		} else if e.Code != "" && name == "" {
			name = e.Code
		}
	}
	if i := strings.LastIndexByte(name, '#'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	if name == "" {
		return outcome("HTTP" + strconv.Itoa(status))
	}
	return outcome(name)
}

// call sends one setup request and decodes a successful answer into out. It
// returns an error naming the exception if the server refuses.
func (c *client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	name, err := c.do(ctx, op, body, &buf)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", op, err)
	}
	if name != "" {
		msg := buf.String()
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return fmt.Errorf("bench: %s failed: %s: %s", op, name, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("bench: %s: decoding response: %w", op, err)
	}
	return nil
}
