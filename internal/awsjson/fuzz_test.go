package awsjson

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trentkms/trent/internal/awserr"
)

// strictReference parses body with encoding/json and checks, independently
// of Decode, what AWS requires of a request body: valid UTF-8, one JSON
// object and nothing after it, no member name twice in one object, nesting
// at most MaxDepth. It returns the top-level members (numbers as
// json.Number) and whether the body passes.
func strictReference(body []byte) (map[string]any, bool) {
	b := bytes.Trim(body, " \t\r\n")
	if len(b) == 0 {
		return map[string]any{}, true
	}
	if b[0] != '{' || !utf8.Valid(b) || !stdjson.Valid(b) {
		return nil, false
	}
	dec := stdjson.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		names map[string]bool
		obj   bool
		key   bool // the next string token of an object is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if d, ok := tok.(stdjson.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].key = true
				}
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return nil, false
			}
			top.names[name] = true
			top.key = false
			continue
		}
		switch d, _ := tok.(stdjson.Delim); d {
		case '{', '[':
			stack = append(stack, &frame{names: map[string]bool{}, obj: d == '{', key: d == '{'})
			if len(stack) > MaxDepth {
				return nil, false
			}
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
	var m map[string]any
	dec = stdjson.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}

// FuzzDecode checks Decode against strictReference: it never panics,
// refuses with SerializationException everything the reference refuses,
// and what it accepts, the reference accepts too, with every member read
// under its exact name (a case variant never stands in for it).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"KeyId":"alias/k","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"},"NumberOfBytes":32}`,
		`{"KeyId":"a","KEYID":"b"}`, `{"keyid":"b"}`, `{"KeyId":"a","KeyId":"b"}`, `{"Ke\u0079Id":"x"}`,
		"{\"KeyId\":\"\xc0\xaf\"}", "{\"KeyId\":\"\xed\xa0\x80\"}", `{"KeyId":"\ud800"}`,
		`{"EncryptionContext":{"a":"b","a":"c"}}`, `{"NumberOfBytes":1e3}`, `{"Plaintext":"QUF="}`,
		`{"Future":[[[[{"x":[]}]]]]}`, `{} x`, "\xef\xbb\xbf{}", ``, ` `, `null`, `[]`,
		`{"KeyId":null,"Plaintext":null}`, `{"a":"\"\\\"[[[["}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in input
		err := Decode(body, &in)
		ref, ok := strictReference(body)
		if err != nil {
			if awserr.CodeOf(err) != awserr.Serialization {
				t.Fatalf("Decode(%q) = %v, want SerializationException", body, err)
			}
			return
		}
		if !ok {
			t.Fatalf("Decode accepted %q, which the reference refuses", body)
		}
		checkMember(t, body, ref, "KeyId", in.KeyID != nil, func(v any) bool {
			s, ok := v.(string)
			return ok && s == *in.KeyID
		})
		checkMember(t, body, ref, "Plaintext", in.Plaintext != nil, func(v any) bool {
			s, ok := v.(string)
			if !ok {
				return false
			}
			p, err := base64.StdEncoding.DecodeString(s)
			return err == nil && bytes.Equal(p, in.Plaintext)
		})
		checkMember(t, body, ref, "NumberOfBytes", in.N != nil, func(v any) bool {
			n, ok := v.(stdjson.Number)
			if !ok {
				return false
			}
			i, err := strconv.ParseInt(string(n), 10, 64)
			return err == nil && i == *in.N
		})
		checkMember(t, body, ref, "EncryptionContext", in.EC != nil, func(v any) bool {
			m, ok := v.(map[string]any)
			if !ok || len(m) != len(in.EC) {
				return false
			}
			for k, x := range m {
				if s, ok := x.(string); !ok || in.EC[k] != s {
					return false
				}
			}
			return true
		})
	})
}

// checkMember checks the decoded member name (set reports whether Decode
// set it) against the reference's member of exactly that name.
func checkMember(t *testing.T, body []byte, ref map[string]any, name string, set bool, equal func(any) bool) {
	t.Helper()
	v, present := ref[name]
	if !present || v == nil {
		if set {
			t.Fatalf("Decode(%q) set %s, which the body does not carry under that exact name", body, name)
		}
		return
	}
	if !set || !equal(v) {
		t.Fatalf("Decode(%q): %s differs from the reference's %v", body, name, v)
	}
}

// TestStrictReference keeps the fuzzing reference honest.
func TestStrictReference(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		`{}`: true, ``: true, `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`: true,
		`{"a":1,"a":2}`: false, `{"a":{"b":1,"b":2}}`: false, `[1]`: false, `{} x`: false,
		"{\"a\":\"\xc0\xaf\"}": false, `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`: false,
		`{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`: true,
	} {
		if _, ok := strictReference([]byte(body)); ok != want {
			t.Errorf("strictReference(%q) = %v, want %v", body, ok, want)
		}
	}
}
