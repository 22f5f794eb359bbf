package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/server"
	"github.com/trentkms/trent/internal/sigv4"
)

// startWire starts a node on a loopback port and returns its endpoint.
func startWire(t *testing.T) string {
	t.Helper()
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()},
		node.Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n.Endpoint
}

func wireError(t *testing.T, resp *http.Response) (status int, typ, msg string) {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if resp.Header.Get("X-Amzn-Requestid") == "" || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Fatalf("error response headers %v", resp.Header)
	}
	if resp.Header.Get("X-Amzn-Errortype") != e.Type {
		t.Fatalf("X-Amzn-Errortype %q, body __type %q", resp.Header.Get("X-Amzn-Errortype"), e.Type)
	}
	return resp.StatusCode, e.Type, e.Message
}

// TestWireEdges drives the HTTP server itself (not ServeHTTP) with
// requests real clients and bad clients send: bodies over the limits, a
// GET to the JSON API, Expect: 100-continue, health checks and the IAM
// query API that the KMS fast path hands to net/http.
func TestWireEdges(t *testing.T) {
	ep := startWire(t)
	post := func(target string, body []byte, sign bool) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(http.MethodPost, ep+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if target != "" {
			r.Header.Set("X-Amz-Target", target)
		}
		if sign {
			sigv4.Sign(r, body, benchAKID, []byte(benchSecret), "", "us-east-1", "kms", time.Now())
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("body over the operation's limit", func(t *testing.T) {
		// Sent in full: the server answers from Content-Length and
		// drains the unread body, so the client reads the answer.
		body := []byte(`{"KeyId":"alias/x","Plaintext":"` + strings.Repeat("A", 1<<20) + `"}`)
		st, typ, _ := wireError(t, post("TrentService.Encrypt", body, true))
		if st != 413 || typ != "RequestEntityTooLargeException" {
			t.Fatalf("got %d %s", st, typ)
		}
	})
	t.Run("body over the server's limit", func(t *testing.T) {
		// The answer comes from the declared length, before any of the
		// body is read (a client still writing it may see the connection
		// close instead, so the body is not sent here).
		c, err := net.Dial("tcp", strings.TrimPrefix(ep, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.Encrypt\r\nContent-Length: %d\r\n\r\n", server.MaxWireBody+1)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if st, typ, _ := wireError(t, resp); st != 413 || typ != "RequestEntityTooLargeException" {
			t.Fatalf("got %d %s", st, typ)
		}
	})
	t.Run("GET with a target", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, ep+"/", nil)
		r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if st, typ, _ := wireError(t, resp); st != 400 || typ != "UnknownOperationException" {
			t.Fatalf("got %d %s", st, typ)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		st, typ, _ := wireError(t, post("TrentService.ListKeys", []byte(`{}`), false))
		if st != 400 || typ != "MissingAuthenticationTokenException" {
			t.Fatalf("got %d %s", st, typ)
		}
	})
	t.Run("signed", func(t *testing.T) {
		resp := post("TrentService.ListKeys", []byte(`{}`), true)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"Keys"`)) || resp.Header.Get("X-Amzn-Requestid") == "" {
			t.Fatalf("ListKeys: %d %s %v", resp.StatusCode, b, resp.Header)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(ep + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			t.Fatalf("healthz: %d %q", resp.StatusCode, b)
		}
	})
	t.Run("IAM query API through net/http", func(t *testing.T) {
		body := []byte("Action=GetUser&Version=2010-05-08")
		r, _ := http.NewRequest(http.MethodPost, ep+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sigv4.Sign(r, body, benchAKID, []byte(benchSecret), "", "us-east-1", "iam", time.Now())
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 0 || !bytes.Contains(b, []byte("GetUser")) {
			t.Fatalf("IAM GetUser: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("Expect 100-continue", func(t *testing.T) {
		body := []byte(`{}`)
		r, _ := http.NewRequest(http.MethodPost, ep+"/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		sigv4.Sign(r, body, benchAKID, []byte(benchSecret), "", "us-east-1", "kms", time.Now())
		c, err := net.Dial("tcp", strings.TrimPrefix(ep, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\nContent-Length: %d\r\n", r.Host, len(body))
		for k, v := range r.Header {
			fmt.Fprintf(c, "%s: %s\r\n", k, v[0])
		}
		fmt.Fprintf(c, "\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("interim response %q, %v", line, err)
		}
		br.ReadString('\n') // blank line after 100 Continue
		c.Write(body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"Keys"`)) {
			t.Fatalf("after 100-continue: %d %s", resp.StatusCode, b)
		}
	})
}
