package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	load := func(t *testing.T, yaml string) (*File, error) {
		p := filepath.Join(t.TempDir(), "trent.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := Load(p)
		if err != nil {
			return nil, err
		}
		f.DataDir = t.TempDir()
		return f, f.Validate()
	}
	t.Run("ok/defaults", func(t *testing.T) {
		t.Parallel()
		f, err := load(t, "version: 1\n")
		if err != nil {
			t.Fatal(err)
		}
		want := LimitsFile{ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute, FailedAuthRate: 5, FailedAuthBurst: 25, FailedAuthInterval: time.Minute,
			FailedAuthLookupRate: 100, FailedAuthSources: 65536}
		if f.Limits != want {
			t.Fatalf("defaults %+v", f.Limits)
		}
	})
	t.Run("ok/set", func(t *testing.T) {
		t.Parallel()
		f, err := load(t, "limits:\n  max_connections: 500\n  max_connections_per_client: -1\n  read_timeout: 3s\n  failed_auth_rate: -1\n")
		if err != nil {
			t.Fatal(err)
		}
		if f.Limits.MaxConnections != 500 || f.Limits.MaxConnectionsPerClient != -1 || f.Limits.ReadTimeout != 3*time.Second || f.Limits.FailedAuthRate != -1 {
			t.Fatalf("limits %+v", f.Limits)
		}
	})
	for _, tc := range []struct{ name, yaml, want string }{
		{"fail/negative timeout", "limits:\n  read_timeout: -1s\n", "must not be negative"},
		{"fail/negative burst", "limits:\n  failed_auth_burst: -3\n", "failed_auth_burst"},
		{"fail/negative sources", "limits:\n  failed_auth_sources: -1\n", "failed_auth_sources"},
		{"fail/unknown field", "limits:\n  max_conns: 3\n", "max_conns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := load(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
