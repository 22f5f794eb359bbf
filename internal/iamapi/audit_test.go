package iamapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/audit"
)

// The table's secret response members never reach the audit record of a
// successful call.
func TestRecordOmitsSecretResponse(t *testing.T) {
	results := map[string]any{"CreateAccessKey": &createAccessKeyResult{}, "AssumeRole": &assumeRoleResult{}}
	for name, op := range operations {
		if len(op.secretResponse) == 0 {
			continue
		}
		out, ok := results[name]
		if !ok {
			t.Errorf("%s: no result to test its secret members with", name)
			continue
		}
		v := reflect.ValueOf(out).Elem()
		for _, path := range op.secretResponse {
			f := v
			for _, member := range strings.Split(path, ".") {
				f = f.FieldByName(member)
				if !f.IsValid() {
					t.Fatalf("%s: no member %s", name, path)
				}
			}
			f.SetString("SECRET-" + path)
		}
		c := &call{h: &Handler{region: "us-east-1"}, op: op, action: name}
		c.Out = out
		ev := &audit.Event{}
		c.Record(nil, ev)
		if ev.ResponseElements == nil {
			t.Errorf("%s: no responseElements", name)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "SECRET-") {
			t.Errorf("%s: the record holds a secret member: %s", name, b)
		}
	}
}
