package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content, want string }{
		{"fail/empty", "", "is empty"},
		{"fail/comments-only", "# nothing\n   \n", "is empty"},
		{"fail/unknown-field", "version: 1\nlisten_addr: x\n", "field listen_addr not found"},
		{"fail/version", "version: 2\n", "unsupported version 2"},
		{"ok/version-only", "version: 1\n", ""},
		{"ok/root-key", "root_key:\n  file: /k\n  allow_in_data_dir: true\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "trent.yaml")
			os.WriteFile(p, []byte(tc.content), 0o600)
			f, err := Load(p)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tc.content, "allow_in_data_dir") && (!f.RootKey.AllowInDataDir || f.RootKey.File != "/k") {
					t.Fatalf("root_key = %+v", f.RootKey)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Load: %v, want %q and the path", err, tc.want)
			}
		})
	}
}

func TestRootKeyPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	f := &File{DataDir: "/data"}
	if p, explicit, err := f.RootKeyPath(); p != "/xdg/trent/root.key" || explicit || err != nil {
		t.Fatalf("default with XDG_CONFIG_HOME: %q %v %v", p, explicit, err)
	}
	for _, xdg := range []string{"", "relative/dir"} {
		t.Setenv("XDG_CONFIG_HOME", xdg)
		if p, _, _ := f.RootKeyPath(); p != "/home/u/.config/trent/root.key" {
			t.Fatalf("default with HOME and XDG_CONFIG_HOME=%q: %q", xdg, p)
		}
	}
	f.RootKey.File = "/etc/trent/root.key"
	if p, explicit, err := f.RootKeyPath(); p != "/etc/trent/root.key" || !explicit || err != nil {
		t.Fatalf("explicit: %q %v %v", p, explicit, err)
	}
	if err := f.Validate(); err != nil || f.RootKey.File != "/etc/trent/root.key" {
		t.Fatalf("Validate changed root_key.file: %q %v", f.RootKey.File, err)
	}
}

func TestMetricsAndLogFormat(t *testing.T) {
	for _, tc := range []struct {
		name, listen, metrics, format string
		addr                          string
		configured                    bool
		fail                          string
	}{
		{name: "ok/default", addr: DefaultMetricsListen},
		{name: "ok/off", metrics: "off", addr: "", configured: true},
		{name: "ok/set", metrics: "127.0.0.1:9100", addr: "127.0.0.1:9100", configured: true, format: "json"},
		{name: "ok/both-random", listen: "127.0.0.1:0", metrics: "127.0.0.1:0", addr: "127.0.0.1:0", configured: true},
		{name: "fail/api-port", listen: "127.0.0.1:4599", metrics: "127.0.0.1:4599", fail: "is the API's"},
		{name: "fail/address", metrics: "9100", fail: "metrics listen address"},
		{name: "fail/format", format: "xml", fail: "want text or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{Listen: tc.listen, DataDir: t.TempDir(), LogFormat: tc.format, Metrics: MetricsFile{Listen: tc.metrics}}
			err := f.Validate()
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("err %v, want %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if addr, configured := f.MetricsAddr(); addr != tc.addr || configured != tc.configured {
				t.Errorf("MetricsAddr %q %v, want %q %v", addr, configured, tc.addr, tc.configured)
			}
		})
	}
}
