package iamapi

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/awserr"
)

// XML namespaces of the two APIs.
const (
	NamespaceIAM = "https://iam.amazonaws.com/doc/2010-05-08/"
	NamespaceSTS = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// isoTime formats a timestamp as the query protocol does.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// encodePolicy percent-encodes a policy document as IAM returns them
// (RFC 3986: every byte outside the unreserved set is escaped). The AWS
// CLI and boto3 decode it; SDKs without that customization show the
// encoded form, exactly as they do against AWS.
func encodePolicy(doc string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// writeResult writes <OpResponse xmlns=ns><OpResult>result</OpResult>
// <ResponseMetadata>...</ResponseMetadata></OpResponse>. A nil result
// omits the OpResult element, as AWS does for actions without output.
func writeResult(w http.ResponseWriter, ns, op, reqID string, result any) error {
	var b strings.Builder
	b.WriteString(xml.Header[:len(xml.Header)-1])
	b.WriteString("\n<" + op + "Response xmlns=\"" + ns + "\">\n")
	if result != nil {
		enc := xml.NewEncoder(&b)
		enc.Indent("  ", "  ")
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op + "Result"}}); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	b.WriteString("  <ResponseMetadata>\n    <RequestId>" + reqID + "</RequestId>\n  </ResponseMetadata>\n</" + op + "Response>\n")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(b.String()))
	return err
}

// statusOf maps an IAM/STS error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case "NoSuchEntity":
		return http.StatusNotFound
	case "EntityAlreadyExists", "DeleteConflict", "LimitExceeded", "ConcurrentModification":
		return http.StatusConflict
	case "AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken", "ExpiredToken":
		return http.StatusForbidden
	case "ServiceFailure", "InternalFailure":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

type xmlError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// writeError writes AWS's query-protocol error document.
func writeError(w http.ResponseWriter, ns, reqID string, e *awserr.Error) {
	typ := "Sender"
	status := statusOf(e.Code)
	if status >= 500 {
		typ = "Receiver"
	}
	out, _ := xml.MarshalIndent(xmlError{Xmlns: ns, Type: typ, Code: e.Code, Message: e.Message, RequestID: reqID}, "", "  ")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(append(append([]byte(xml.Header), out...), '\n'))
}

// queryError converts the SigV4 verifier's JSON-protocol error codes to the
// codes the query APIs use for the same failures.
func queryError(e *awserr.Error) *awserr.Error {
	switch e.Code {
	case awserr.UnrecognizedClient:
		return awserr.New("InvalidClientTokenId", e.Message)
	case awserr.InvalidSignature:
		return awserr.New("SignatureDoesNotMatch", e.Message)
	case awserr.ExpiredToken:
		return awserr.New("ExpiredToken", e.Message)
	case awserr.MissingAuthenticationToken:
		return awserr.New("MissingAuthenticationToken", e.Message)
	case awserr.IncompleteSignature:
		return awserr.New("IncompleteSignature", e.Message)
	}
	return awserr.New(strings.TrimSuffix(e.Code, "Exception"), e.Message)
}
