package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// lookupOf is an environment of its own, for FromEnv.
func lookupOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	t.Run("ok/every-variable", func(t *testing.T) {
		vars := map[string]string{
			"TRENT_ACCESS_KEY_ID": "AKIA1", "TRENT_SECRET_ACCESS_KEY": "s1", "TRENT_ROOT_KEY": "aa",
			"TRENT_HSM_MODULE": "/lib/p11.so", "TRENT_HSM_TOKEN": "tok", "TRENT_HSM_PIN": "1234",
			"TRENT_XKS_CA_FILE":       "/ca.pem",
			"TRENT_XKS_ACCESS_KEY_ID": "X1", "TRENT_XKS_SECRET_ACCESS_KEY": "XS1",
			"TRENT_XKS_ACCESS_KEY_ID_2": "X2", "TRENT_XKS_SECRET_ACCESS_KEY_2": "XS2",
			"AWS_ACCESS_KEY_ID": "AKIA2", "AWS_SECRET_ACCESS_KEY": "s2", "AWS_SESSION_TOKEN": "tk",
			"GOGC": "100", "GOMAXPROCS": "4",
			"TRENT_TEST_SCHEDULER_INTERVAL": "200ms", "TRENT_TEST_CLOCK_FILE": "/clock",
			"RELEASE_SECRET": "declared",
		}
		e := FromEnv(lookupOf(vars))
		want := Env{AccessKeyID: "AKIA1", SecretAccessKey: "s1", RootKey: "aa",
			HSM:       HSMEnv{Module: "/lib/p11.so", Token: "tok", PIN: "1234"},
			XKSCAFile: "/ca.pem",
			XKSProxyCredentials: []XKSCredential{{AccessKeyID: "X1", SecretAccessKey: "XS1"},
				{AccessKeyID: "X2", SecretAccessKey: "XS2"}},
			AWSAccessKeyID: "AKIA2", AWSSecretAccessKey: "s2", AWSSessionToken: "tk",
			GOGCSet: true, GOMAXPROCSSet: true,
			Test: TestHooks{SchedulerInterval: "200ms", ClockFile: "/clock"}}
		got := e
		got.lookup = nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FromEnv =\n%+v\nwant\n%+v", got, want)
		}
		if !e.Test.Set() {
			t.Error("Test.Set() = false with both hooks set")
		}
		if s := e.Secret("RELEASE_SECRET"); s != "declared" {
			t.Errorf("Secret(RELEASE_SECRET) = %q", s)
		}
		if s := e.Secret("UNSET"); s != "" {
			t.Errorf("Secret(UNSET) = %q", s)
		}
	})
	t.Run("ok/empty-is-unset", func(t *testing.T) {
		e := FromEnv(lookupOf(map[string]string{"GOGC": "", "GOMAXPROCS": "",
			"TRENT_XKS_ACCESS_KEY_ID": "X1", "TRENT_XKS_SECRET_ACCESS_KEY": "",
			"TRENT_XKS_SECRET_ACCESS_KEY_2": "XS2"}))
		if e.GOGCSet || e.GOMAXPROCSSet || e.Test.Set() || len(e.XKSProxyCredentials) != 0 {
			t.Fatalf("FromEnv of empty or half-set variables = %+v", e)
		}
	})
	t.Run("ok/zero-env-has-no-secrets", func(t *testing.T) {
		if s := (Env{}).Secret("PATH"); s != "" {
			t.Fatalf("Env{}.Secret(PATH) = %q, want \"\"", s)
		}
	})
}

// An Env printed by mistake, alone or inside a struct, shows no secret.
func TestEnvPrintsNoSecret(t *testing.T) {
	t.Parallel()
	e := FromEnv(lookupOf(map[string]string{"TRENT_SECRET_ACCESS_KEY": "secret-admin", "TRENT_ROOT_KEY": "secret-root",
		"TRENT_HSM_PIN": "secret-pin", "TRENT_XKS_ACCESS_KEY_ID": "X1", "TRENT_XKS_SECRET_ACCESS_KEY": "secret-xks",
		"AWS_SECRET_ACCESS_KEY": "secret-aws", "AWS_SESSION_TOKEN": "secret-token"}))
	options := struct {
		Name string
		Env  Env
	}{"x", e}
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%+v", e), fmt.Sprintf("%v", options), fmt.Sprintf("%+v", options),
		fmt.Sprintf("%#v", e), fmt.Sprintf("%#v", options), fmt.Sprint(e.HSM), fmt.Sprint(e.XKSProxyCredentials), fmt.Sprintf("%#v", e.XKSProxyCredentials)} {
		if strings.Contains(s, "secret-") {
			t.Errorf("printed Env shows a secret: %s", s)
		}
	}
	if s := fmt.Sprint(e); !strings.Contains(s, "TRENT_ROOT_KEY") || !strings.Contains(s, "TRENT_HSM_PIN") {
		t.Errorf("printed Env %s does not name the variables set", s)
	}
}
