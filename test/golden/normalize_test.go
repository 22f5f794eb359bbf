package golden

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

var (
	keyARNRe    = regexp.MustCompile(`arn:aws:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)
	keyIDRe     = regexp.MustCompile(`\b(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`)
	amzDateRe   = regexp.MustCompile(`\b\d{8}T\d{6}Z\b`)
	requestIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// hexIDRe matches key material IDs (64 hex digits).
	hexIDRe = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	// scopeDateRe matches the date of a SigV4 credential scope.
	scopeDateRe = regexp.MustCompile(`/\d{8}/([a-z0-9-]+)/([a-z0-9]+)/aws4_request`)
)

// blobMembers are the members AWS encodes as base64 blobs. Those in
// variableBlobs legitimately vary in length between runs (DER ECDSA
// signatures, PKCS#8 RSA keys) and are recorded without their length.
var blobMembers = map[string]bool{
	"CiphertextBlob": true, "Plaintext": true, "PublicKey": true, "Signature": true, "Mac": true,
	"SharedSecret": true, "CiphertextForRecipient": true, "PrivateKeyCiphertextBlob": true,
	"PrivateKeyPlaintext": true, "ImportToken": true, "SharedSecretCiphertextBlob": true,
}

var variableBlobs = map[string]bool{"Signature": true, "PrivateKeyPlaintext": true, "PrivateKeyCiphertextBlob": true}

// timestampMembers are timestamp members not named "...Date".
var timestampMembers = map[string]bool{"ValidTo": true, "ParametersValidTo": true}

// opaqueMembers vary between runs and are recorded as "<name>".
var opaqueMembers = map[string]string{
	"NextMarker": "<marker>", "KeyMaterialId": "<key-material-id>", "CurrentKeyMaterialId": "<key-material-id>",
	"GrantId": "<grant-id>", "GrantToken": "<grant-token>",
}

// normalizer turns a response into the stable text recorded in a case.
type normalizer struct {
	// known maps values of fixtures (ARNs, key IDs) to their placeholders.
	known map[string]string
	// generic replaces every key ARN and ID generically, ignoring known.
	generic bool
}

// response renders status, the pinned headers and the normalized body.
func (n *normalizer) response(status int, h http.Header, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status: %d\n", status)
	fmt.Fprintf(&b, "content-type: %s\n", headerOr(h, "Content-Type"))
	rid := headerOr(h, "X-Amzn-Requestid")
	if requestIDRe.MatchString(rid) {
		rid = "<request-id>"
	}
	fmt.Fprintf(&b, "x-amzn-requestid: %s\n", rid)
	b.WriteString(n.body(body))
	return b.String()
}

func headerOr(h http.Header, name string) string {
	if v := h.Values(name); len(v) > 0 {
		return strings.Join(v, ", ")
	}
	return "<missing>"
}

// body returns body as indented JSON with sorted members and normalized
// values, or quoted raw text if it is not a JSON object.
func (n *normalizer) body(body []byte) string {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return fmt.Sprintf("raw: %q\n", body)
	}
	v = n.value("", v)
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return fmt.Sprintf("unencodable: %v\n", err)
	}
	return out.String()
}

// value normalizes v, the value of member name.
func (n *normalizer) value(name string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = n.value(k, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = n.value(name, e)
		}
		return x
	case json.Number:
		if strings.HasSuffix(name, "Date") || timestampMembers[name] {
			return timestamp(x)
		}
		return x
	case string:
		switch {
		case blobMembers[name]:
			return blob(name, x)
		case strings.HasSuffix(name, "Date") || timestampMembers[name]:
			return "<bad timestamp: string " + x + ">"
		}
		if p, ok := opaqueMembers[name]; ok {
			return p
		}
		return n.text(x)
	}
	return v
}

// timestamp checks that x is an epoch-seconds number of this era.
func timestamp(x json.Number) string {
	f, err := x.Float64()
	if err != nil || f < 1e9 || f > 1e10 {
		return "<bad timestamp: " + x.String() + ">"
	}
	return "<timestamp>"
}

func blob(name, s string) string {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "<bad base64>"
	}
	if variableBlobs[name] {
		return "<blob>"
	}
	return fmt.Sprintf("<blob:%d bytes>", len(raw))
}

// text replaces fixture values with their placeholders, then any other key
// ARN, key ID, 64-hex-digit value (key material IDs, signatures) and SigV4
// date generically.
func (n *normalizer) text(s string) string {
	if !n.generic && len(n.known) > 0 {
		vals := make([]string, 0, len(n.known))
		for v := range n.known {
			vals = append(vals, v)
		}
		// Longest first, so an ARN is replaced before the ID inside it.
		sort.Slice(vals, func(i, j int) bool {
			if len(vals[i]) != len(vals[j]) {
				return len(vals[i]) > len(vals[j])
			}
			return vals[i] < vals[j]
		})
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, n.known[v])
		}
	}
	s = keyARNRe.ReplaceAllString(s, "<key-arn>")
	s = keyIDRe.ReplaceAllString(s, "<key-id>")
	s = hexIDRe.ReplaceAllString(s, "<hex64>")
	s = scopeDateRe.ReplaceAllString(s, "/<yyyymmdd>/$1/$2/aws4_request")
	return amzDateRe.ReplaceAllString(s, "<amz-date>")
}
