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
	stdjson "encoding/json"

	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/trentkms/trent/internal/awserr"
)

// ContentType is the media type of AWS JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// ParseTarget splits an X-Amz-Target header value into service prefix and
// operation name. It returns UnknownOperationException for a malformed
// value or a prefix other than want.
func ParseTarget(target, want string) (string, error) {
	prefix, op, ok := strings.Cut(target, ".")
	if !ok || prefix != want || op == "" {
		return "", awserr.New(awserr.UnknownOperation, "The requested operation is not recognized by the service: "+target)
	}
	return op, nil
}

// Decode decodes a request body into v. An empty body decodes as {}.
// Malformed JSON and members of the wrong type are SerializationException,
// as AWS reports them; unknown members are ignored, so that newer clients
// keep working.
func Decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return awserr.New(awserr.Serialization, "Start of structure or map found where not expected.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError(err)
	}
	return nil
}

func serializationError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return awserr.Newf(awserr.Serialization, "Unexpected value type for member '%s': %s is not valid here.", te.Field, te.Value)
		}
		return awserr.Newf(awserr.Serialization, "Unexpected value type: %s is not valid here.", te.Value)
	}
	var ste *stdjson.UnmarshalTypeError
	if errors.As(err, &ste) {
		te := ste
		if te.Field != "" {
			return awserr.Newf(awserr.Serialization, "Unexpected value type for member '%s': %s is not valid here.", te.Field, te.Value)
		}
		return awserr.Newf(awserr.Serialization, "Unexpected value type: %s is not valid here.", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return awserr.Newf(awserr.Serialization, "Malformed JSON at offset %d.", se.Offset)
	}
	var sse *stdjson.SyntaxError
	if errors.As(err, &sse) {
		return awserr.Newf(awserr.Serialization, "Malformed JSON at offset %d.", sse.Offset)
	}
	if strings.Contains(err.Error(), "base64") || strings.Contains(err.Error(), "illegal") {
		return awserr.New(awserr.Serialization, "A blob member is not valid base64.")
	}
	return awserr.New(awserr.Serialization, "The request body could not be parsed.")
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
