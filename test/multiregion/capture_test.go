package multiregion

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var base64Std = base64.StdEncoding

// captureBody returns an API option that copies the raw response body
// into *dst before the SDK decodes it (the SDK drops members it does not
// know, such as Trent's ReplicationStatus).
func captureBody(dst *[]byte) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("capture", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				*dst = b
				resp.Body = io.NopCloser(bytes.NewReader(b))
			}
			return out, md, err
		}), middleware.After)
	}
}
