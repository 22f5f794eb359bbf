package audit

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
)

type testStamp struct{ time.Time }

func (t testStamp) MarshalJSON() ([]byte, error) { return strconv.AppendInt(nil, t.Unix(), 10), nil }

type testTag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type testCredential struct {
	AccessKeyID        *string `json:"AccessKeyId"`
	RawSecretAccessKey *string `json:"RawSecretAccessKey"`
}

type testConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset"`
}

type testInput struct {
	KeyID             *string            `json:"KeyId"`
	Plaintext         []byte             `json:"Plaintext"`
	Blob              []byte             `json:"SomeBlob"`
	EncryptionContext map[string]string  `json:"EncryptionContext"`
	GrantTokens       []string           `json:"GrantTokens"`
	Tags              []testTag          `json:"Tags"`
	Operations        []string           `json:"Operations"`
	Limit             *int64             `json:"Limit"`
	DryRun            *bool              `json:"DryRun"`
	Credential        *testCredential    `json:"XksProxyAuthenticationCredential"`
	Constraints       *testConstraints   `json:"Constraints"`
	ValidTo           *testStamp         `json:"ValidTo"`
	Description       *string            `json:"Description"`
	Extra             map[string]float64 `json:"Extra"`
	unexported        string
}

func TestSafeInput(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	n := int64(5)
	yes := true
	in := &testInput{
		KeyID: s("alias/k"), Plaintext: []byte("secret"), Blob: []byte("blob"),
		EncryptionContext: map[string]string{"Dept": "x", "KeyId": "y"},
		GrantTokens:       []string{"token"},
		Tags:              []testTag{{TagKey: s("k"), TagValue: s("v")}, {TagKey: s("k2")}},
		Operations:        []string{},
		Limit:             &n, DryRun: &yes,
		Credential:  &testCredential{AccessKeyID: s("AKID"), RawSecretAccessKey: s("raw-secret")},
		Constraints: &testConstraints{EncryptionContextSubset: map[string]string{"A": "b"}},
		ValidTo:     &testStamp{time.Unix(1700000000, 0)},
		Extra:       map[string]float64{"Q": 1},
		unexported:  "x",
	}
	got, err := json.Marshal(SafeInput("Op", in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"constraints":{"encryptionContextSubset":{"A":"b"}},"dryRun":true,"encryptionContext":{"Dept":"x","KeyId":"y"},` +
		`"extra":{"Q":1},"keyId":"alias/k","limit":5,"operations":[],"tags":[{"tagKey":"k","tagValue":"v"},{"tagKey":"k2"}],` +
		`"validTo":1700000000,"xksProxyAuthenticationCredential":{"accessKeyId":"AKID"}}`
	if string(got) != want {
		t.Fatalf("SafeInput =\n%s\nwant\n%s", got, want)
	}
	if SafeInput("Op", nil) != nil || SafeInput("Op", (*testInput)(nil)) != nil {
		t.Fatal("nil input gives parameters")
	}
	if m := SafeInput("Op", &testInput{}); m == nil || len(m) != 0 {
		t.Fatalf("empty input = %v, want {}", m)
	}
}

// TestSafeInputMatchesSafeParameters checks that a record built from the
// decoded input equals the one SafeParameters builds from the same body
// (for members the shape knows; blobs are dropped by both).
func TestSafeInputMatchesSafeParameters(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"KeyId":"k","EncryptionContext":{"a":"b"},"Tags":[{"TagKey":"t","TagValue":"v"}],"Limit":10}`,
		`{"Description":"d","Operations":["Encrypt","Decrypt"],"DryRun":false}`,
		`{"XksProxyAuthenticationCredential":{"AccessKeyId":"A","RawSecretAccessKey":"S"},"GrantTokens":["g"]}`,
		`{"Constraints":{"EncryptionContextSubset":{"K":"V"}},"Plaintext":"c2VjcmV0"}`,
	} {
		var in testInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		a, _ := json.Marshal(SafeInput("Op", &in))
		b, _ := json.Marshal(SafeParameters("Op", m))
		var x, y any
		json.Unmarshal(a, &x)
		json.Unmarshal(b, &y)
		if !reflect.DeepEqual(x, y) {
			t.Errorf("body %s:\nSafeInput      %s\nSafeParameters %s", body, a, b)
		}
	}
}
