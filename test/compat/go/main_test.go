package main

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
)

func TestWantAPIError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		code    string
		wantErr bool
	}{
		{"ok/matching code", &smithy.GenericAPIError{Code: "NotFoundException"}, "NotFoundException", false},
		{"ok/wrapped", errors.Join(errors.New("op"), &smithy.GenericAPIError{Code: "DisabledException"}), "DisabledException", false},
		{"fail/success", nil, "NotFoundException", true},
		{"fail/other code", &smithy.GenericAPIError{Code: "AccessDeniedException"}, "NotFoundException", true},
		{"fail/not an API error", errors.New("connection refused"), "NotFoundException", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := wantAPIError(c.err, c.code); (got != nil) != c.wantErr {
				t.Fatalf("wantAPIError(%v, %q) = %v, want error %v", c.err, c.code, got, c.wantErr)
			}
		})
	}
}

func TestTargetFromEnv(t *testing.T) {
	cases := []struct {
		name       string
		env        map[string]string
		wantErr    bool
		wantRegion string
	}{
		{"ok/default region", map[string]string{"COMPAT_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": ""}, false, "us-east-1"},
		{"ok/explicit region", map[string]string{"COMPAT_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"}, false, "eu-west-1"},
		{"fail/no endpoint", map[string]string{"COMPAT_ENDPOINT": "", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "s"}, true, ""},
		{"fail/no secret", map[string]string{"COMPAT_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": ""}, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			got, err := targetFromEnv()
			if (err != nil) != c.wantErr {
				t.Fatalf("targetFromEnv() error = %v, want error %v", err, c.wantErr)
			}
			if err == nil && got.region != c.wantRegion {
				t.Fatalf("region = %q, want %q", got.region, c.wantRegion)
			}
		})
	}
}
