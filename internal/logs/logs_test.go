package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, FormatJSON, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "from the domain", "key", "k")
	log.WarnContext(ctx, "explicit", RequestIDAttr, "req-1")
	log.With("component", "x").ErrorContext(ctx, "derived")
	log.Info("not about a request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, l)
		}
		if i < 3 {
			if m[RequestIDAttr] != "req-1" {
				t.Errorf("line %d: requestId %v, want req-1: %s", i, m[RequestIDAttr], l)
			}
			if n := strings.Count(l, `"requestId"`); n != 1 {
				t.Errorf("line %d has %d requestId attributes: %s", i, n, l)
			}
		} else if _, ok := m[RequestIDAttr]; ok {
			t.Errorf("line %d has a requestId: %s", i, l)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, format, want string
	}{
		{"ok/text", "text", `level=INFO msg=hello requestId=r`},
		{"ok/default", "", `level=INFO msg=hello requestId=r`},
		{"ok/json", "json", `"level":"INFO","msg":"hello","requestId":"r"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, tc.format, slog.LevelInfo)
			if err != nil {
				t.Fatal(err)
			}
			log.InfoContext(WithRequestID(context.Background(), "r"), "hello")
			log.DebugContext(context.Background(), "below the level")
			if !strings.Contains(buf.String(), tc.want) || strings.Contains(buf.String(), "below") {
				t.Errorf("got %q, want a line with %q and nothing below the level", buf.String(), tc.want)
			}
		})
	}
	if _, err := New(&bytes.Buffer{}, "xml", slog.LevelInfo); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("fail/xml: err %v", err)
	}
}
