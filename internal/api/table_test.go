package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/audit"
)

// The table states which members the audit trail never records; these
// tests hold it to what the audit code redacts (audit.SafeInput and
// audit.SafeParameters, the inputs' AuditParameters methods), so that the
// table and the redaction cannot drift apart.

// fill sets every member of the value v points to, recursively, so that a
// member the redaction drops is missing from its result.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), depth)
	case reflect.Struct:
		if depth > 4 {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth)
		fill(e, depth)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// wireName is a struct field's member name on the wire.
func wireName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		name = f.Name
	}
	return name
}

// recorded reports whether the trail may record a member of this name (the
// audit code's name rule) and returns the name it records it under.
func recorded(name string) (string, bool) {
	for k := range audit.SafeParameters("", map[string]any{name: "x"}) {
		return k, true
	}
	return "", false
}

func isBlob(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// secrets returns the members of struct type t (nested ones as
// "Outer.Inner") that the audit code never records: by name, and for a
// request also every blob (blob says whether blobs count).
func secrets(t reflect.Type, prefix string, blob bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && !isBlob(t) {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.Implements(reflect.TypeFor[json.Marshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[json.Marshaler]()) {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := wireName(f)
		if _, ok := recorded(name); !ok || blob && isBlob(f.Type) {
			out = append(out, prefix+name)
			continue
		}
		out = append(out, secrets(f.Type, prefix+name+".", blob)...)
	}
	return out
}

// present returns the members recorded in m (nested ones as "outer.inner").
func present(m map[string]any, prefix string, dst map[string]bool) {
	for k, v := range m {
		dst[prefix+k] = true
		switch t := v.(type) {
		case map[string]any:
			present(t, prefix+k+".", dst)
		case []any:
			for _, x := range t {
				if xm, ok := x.(map[string]any); ok {
					present(xm, prefix+k+".", dst)
				}
			}
		}
	}
}

// recordedName is the name under which the trail would record the member
// at path (wire names), as present reports it.
func recordedName(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if n, ok := recorded(p); ok {
			parts[i] = n
		} else {
			parts[i] = strings.ToLower(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, ".")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestTableSecretsAgreeWithAudit(t *testing.T) {
	for name, op := range Operations {
		t.Run(name, func(t *testing.T) {
			if got, want := sorted(op.SecretRequest), sorted(secrets(op.Input, "", true)); !slices.Equal(got, want) {
				t.Errorf("SecretRequest = %q, the audit code drops %q", got, want)
			}
			if got, want := sorted(op.SecretResponse), sorted(secrets(op.Output, "", true)); !slices.Equal(got, want) {
				t.Errorf("SecretResponse = %q, the audit code drops %q", got, want)
			}
			// What the trail records of a request with every member
			// set holds no secret member.
			in := reflect.New(op.Input.Elem())
			fill(in, 0)
			rec := map[string]bool{}
			present(audit.SafeInput(name, in.Interface()), "", rec)
			if p, ok := in.Interface().(interface{ AuditParameters() map[string]any }); ok {
				present(p.AuditParameters(), "", rec)
			}
			for _, s := range op.SecretRequest {
				if rec[recordedName(s)] {
					t.Errorf("the record of a request holds secret member %s", s)
				}
			}
			// So does its response, where one is recorded.
			if op.ReadOnly || op.Crypto {
				return
			}
			out := reflect.New(op.Output.Elem())
			fill(out, 0)
			b, err := json.Marshal(out.Interface())
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			rec = map[string]bool{}
			present(audit.SafeParameters(name, m), "", rec)
			for _, s := range op.SecretResponse {
				if rec[recordedName(s)] {
					t.Errorf("the record of a response holds secret member %s", s)
				}
			}
		})
	}
}

func TestTableContract(t *testing.T) {
	for name, op := range Operations {
		if op.Name != name || op.Action != "kms:"+name {
			t.Errorf("%s: Name %q, Action %q", name, op.Name, op.Action)
		}
		if op.MaxBody <= 0 || op.MaxBody != bodyLimits[name] {
			t.Errorf("%s: MaxBody %d, model limit %d", name, op.MaxBody, bodyLimits[name])
		}
		if op.Deadline <= 0 {
			t.Errorf("%s: no deadline", name)
		}
		if op.Input == nil || op.Output == nil || op.Invoke == nil {
			t.Errorf("%s: no handler", name)
		}
		if op.Crypto && !op.ReadOnly {
			t.Errorf("%s: a cryptographic operation is read-only in CloudTrail", name)
		}
	}
}
