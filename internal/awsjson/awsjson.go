// Package awsjson speaks the AWS JSON 1.1 protocol and nothing else: it
// parses the X-Amz-Target header, decodes request bodies into operation
// input shapes, and encodes responses and errors the way AWS services do.
//
// Errors are encoded as {"__type": name, "message": text} with the HTTP
// status of awserr.HTTPStatus. Blobs are base64 and timestamps epoch seconds
// by virtue of the shapes' JSON encodings (see kms.Timestamp).
package awsjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	json "github.com/goccy/go-json"

	"github.com/trentkms/trent/internal/awserr"
)

// ContentType is the media type of AWS JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// IsJSONContentType reports whether a Content-Type header value names an
// AWS JSON protocol body (application/x-amz-json-1.0 or -1.1, or
// application/json), whatever its parameters. A request with such a body
// is a JSON protocol request even without an X-Amz-Target header, and is
// answered in JSON; query-protocol requests (IAM, STS) are form-encoded.
func IsJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, ContentType) || strings.EqualFold(mt, "application/x-amz-json-1.0") ||
		strings.EqualFold(mt, "application/json")
}

// ParseTarget splits an X-Amz-Target header value into service prefix and
// operation name. It returns UnknownOperationException for a missing or
// malformed value or a prefix other than want.
func ParseTarget(target, want string) (string, error) {
	if target == "" {
		return "", awserr.New(awserr.UnknownOperation, "Requests must be POST with an X-Amz-Target header.")
	}
	prefix, op, ok := strings.Cut(target, ".")
	if !ok || prefix != want || op == "" {
		return "", awserr.New(awserr.UnknownOperation, "The requested operation is not recognized by the service: "+target)
	}
	return op, nil
}

// ReadPost reads the body of r, a JSON protocol request, as the KMS API
// reads one: only POST (UnknownOperationException otherwise), and at most
// max bytes (ErrTooLarge beyond). It is for the protocols beside KMS's own
// fast path (the CloudTrail and development APIs).
func ReadPost(r *http.Request, max int64) ([]byte, *awserr.Error) {
	if r.Method != http.MethodPost {
		return nil, awserr.New(awserr.UnknownOperation, "Requests must be POST with an X-Amz-Target header.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, awserr.New(awserr.Serialization, "The request body could not be read.")
	}
	if int64(len(body)) > max {
		return nil, ErrTooLarge(max)
	}
	return body, nil
}

// Operation returns the operation an X-Amz-Target value names under
// prefix ("Prefix.Operation" -> "Operation"), or the whole value when it
// is not under prefix (so that an unknown target is named as sent).
func Operation(target, prefix string) string {
	op, ok := strings.CutPrefix(target, prefix+".")
	if !ok {
		return target
	}
	return op
}

// MaxDepth is the deepest nesting of objects and arrays a request body may
// have. No KMS request shape nests deeper than 3 (CreateKey: request >
// Tags > Tag); the margin leaves room for members AWS may add, which are
// parsed and ignored.
const MaxDepth = 32

// Decode decodes a request body into v, a pointer to an input shape, as
// AWS parses JSON 1.1 requests:
//
//   - an empty body (or only whitespace) decodes as {};
//   - member names are case-sensitive: "keyId" is not KeyId but an unknown
//     member, and unknown members are ignored, so that newer clients keep
//     working;
//   - a member name that occurs twice in one object (in any nested object
//     or map too) is refused, so no reader of the request can see another
//     value than the operation acts on;
//   - strings must be valid UTF-8 (escapes included: no lone surrogates);
//   - the body is one JSON object, nested at most MaxDepth deep, with
//     nothing after it;
//   - blobs are standard base64 with padding; integers are JSON integers
//     within the member's range.
//
// Every refusal is a SerializationException. Decode uses a decoder that
// keeps these rules by construction (github.com/go-json-experiment/json,
// the encoding/json/v2 candidate) rather than a faster one that folds case
// and keeps the last duplicate: the measurements are in docs/performance.md.
func Decode(body []byte, v any) error {
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil
	}
	if body[i] != '{' {
		return awserr.New(awserr.Serialization, "Start of structure or map found where not expected.")
	}
	// Offsets in messages count from the first byte of the object, and
	// the end of a truncated body is where the last token ends.
	j := len(body)
	for j > i && (body[j-1] == ' ' || body[j-1] == '\t' || body[j-1] == '\n' || body[j-1] == '\r') {
		j--
	}
	body = body[i:j]
	if tooDeep(body) {
		return awserr.Newf(awserr.Serialization, "The request is nested deeper than %d levels.", MaxDepth)
	}
	if err := jsonv2.Unmarshal(body, v); err != nil {
		return serializationError(body, err)
	}
	return nil
}

// skipSpace returns the index of the first byte of b at or after i that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// tooDeep reports whether the JSON text b nests objects and arrays more than
// MaxDepth deep. Most bodies hold fewer brackets than that in all, which two
// vectorized counts show; others are scanned, skipping strings. Malformed
// text is left for the decoder to report.
func tooDeep(b []byte) bool {
	if bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) <= MaxDepth {
		return false
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Find the closing quote: one preceded by an even number of
			// backslashes.
			j := i + 1
			for {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					return false
				}
				j += k
				n := 0
				for p := j - 1; p > i && b[p] == '\\'; p-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			i = j
		case '{', '[':
			depth++
			if depth > MaxDepth {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// serializationError maps a decoding error of body to AWS's exception.
func serializationError(body []byte, err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		kind := kindName(se.JSONKind)
		if name := topMember(string(se.JSONPointer)); name != "" {
			return awserr.Newf(awserr.Serialization, "Unexpected value type for member '%s': %s is not valid here.", name, kind)
		}
		return awserr.Newf(awserr.Serialization, "Unexpected value type: %s is not valid here.", kind)
	}
	var ye *jsontext.SyntacticError
	if errors.As(err, &ye) {
		switch {
		case errors.Is(ye.Err, jsontext.ErrDuplicateName):
			// The pointer ends with the repeated name: a member of the
			// request, or a name within one (possibly a map key: data,
			// not named).
			name := topMember(string(ye.JSONPointer))
			if strings.Count(string(ye.JSONPointer), "/") > 1 {
				return awserr.Newf(awserr.Serialization, "Duplicate member name within member '%s' at offset %d.", name, ye.ByteOffset)
			}
			return awserr.Newf(awserr.Serialization, "Duplicate member '%s' at offset %d.", name, ye.ByteOffset)
		case !utf8.Valid(body) || strings.Contains(ye.Err.Error(), "surrogate"):
			return awserr.Newf(awserr.Serialization, "Invalid UTF-8 in a string at offset %d.", ye.ByteOffset)
		}
		return awserr.Newf(awserr.Serialization, "Malformed JSON at offset %d.", ye.ByteOffset)
	}
	return awserr.New(awserr.Serialization, "The request body could not be parsed.")
}

// topMember returns the first token of a JSON pointer ("/Tags/0/TagKey" ->
// "Tags"): the member of the request the error is in. Only a member name
// of the request shape is named, never a key of a map member (data), and
// only up to 64 bytes of it.
func topMember(ptr string) string {
	if ptr == "" || ptr[0] != '/' {
		return ""
	}
	name, _, _ := strings.Cut(ptr[1:], "/")
	name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
	if len(name) > 64 {
		name = strings.ToValidUTF8(name[:64], "")
	}
	return name
}

// kindName names a JSON kind as AWS's messages do.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// GetBuffer returns an empty buffer from a pool; PutBuffer returns it.
func GetBuffer() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// PutBuffer returns a buffer of GetBuffer to the pool.
func PutBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		bufPool.Put(b)
	}
}

// EncodeResponse appends the response body of v (nil encodes as {}) to buf.
func EncodeResponse(buf *bytes.Buffer, v any) error {
	if v == nil {
		buf.WriteString("{}")
		return nil
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("awsjson: encode response: %w", err)
	}
	return nil
}

// WriteResponse encodes v as the response body with status 200.
func WriteResponse(w http.ResponseWriter, v any) error {
	buf := GetBuffer()
	defer PutBuffer(buf)
	if err := EncodeResponse(buf, v); err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = []string{ContentType}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// ErrorBody returns the response body of e.
func ErrorBody(e *awserr.Error) []byte {
	body, _ := json.Marshal(errorBody{Type: e.Code, Message: e.Message})
	return body
}

// WriteError encodes e with its HTTP status.
func WriteError(w http.ResponseWriter, e *awserr.Error) {
	h := w.Header()
	h["Content-Type"] = []string{ContentType}
	h["X-Amzn-Errortype"] = []string{e.Code}
	w.WriteHeader(awserr.HTTPStatus(e.Code))
	w.Write(ErrorBody(e))
}

// ReadBody reads at most limit bytes of r. A longer body is a
// RequestEntityTooLargeException... except that AWS KMS reports it as a
// ValidationException for the member; here the whole body is refused.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	buf := make([]byte, 0, 2048)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(buf)) > limit {
		return nil, ErrTooLarge(limit)
	}
	return buf, nil
}

// ErrTooLarge is the error for a request body over limit bytes.
func ErrTooLarge(limit int64) *awserr.Error {
	return awserr.Newf(awserr.RequestEntityTooLarge, "Request body exceeds the limit of %d bytes.", limit)
}
