package server

import "testing"

func TestARNAccount(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:kms:us-east-1:111122223333:key/abc": "111122223333",
		"arn:aws:kms:us-east-1:111122223333:alias/x": "111122223333",
		"arn:aws:kms:us-east-1:111122223333":         "",
		"arn:aws:kms":                                "",
		"":                                           "",
	} {
		if got := arnAccount(arn); got != want {
			t.Errorf("arnAccount(%q) = %q, want %q", arn, got, want)
		}
	}
}
