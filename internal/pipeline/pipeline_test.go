package pipeline

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/sigv4"
)

// fakeCodec fails where told to and notes which of its methods ran.
type fakeCodec struct {
	Call
	openErr *awserr.Error
	ran     []string
}

func (c *fakeCodec) Open(*Request) *awserr.Error { c.ran = append(c.ran, "Open"); return c.openErr }
func (c *fakeCodec) Peek(*Request)               { c.ran = append(c.ran, "Peek") }
func (c *fakeCodec) Lookup(*Request) ([]byte, *awserr.Error) {
	c.ran = append(c.ran, "Lookup")
	return nil, awserr.New("UnknownOperationException", "no such operation")
}
func (c *fakeCodec) Verifier(*Request) *sigv4.Verifier { return nil }
func (c *fakeCodec) Deadline() time.Duration           { return time.Second }
func (c *fakeCodec) Run(context.Context) error         { c.ran = append(c.ran, "Run"); return nil }
func (c *fakeCodec) Record(*Request, *audit.Event)     { c.ran = append(c.ran, "Record") }
func (c *fakeCodec) Finish()                           { c.ran = append(c.ran, "Finish") }
func (c *fakeCodec) Describe(f *authfail.Failure) {
	c.ran = append(c.ran, "Describe")
	f.EventName = "Op"
}
func status(code string) int { return 400 }
func request() *Request {
	return &Request{Ctx: context.Background(), Sig: sigv4.HTTPRequest(httptest.NewRequest("POST", "/", nil)), RemoteIP: "192.0.2.7"}
}

func TestServeFailsBeforeTheCaller(t *testing.T) {
	t.Parallel()
	throttled := awserr.New("ThrottlingException", "slow down")
	p := &Pipeline{Failed: authfail.New(authfail.Config{}), Log: slog.New(slog.DiscardHandler),
		Errors: Errors{Throttled: throttled, Internal: awserr.New("InternalException", "internal"), Status: status}}
	defer p.Failed.Close()
	t.Run("fail/open", func(t *testing.T) {
		bad := awserr.New("ValidationError", "bad")
		x := &fakeCodec{openErr: bad}
		p.Serve(x, request())
		if x.Err != bad || strings.Join(x.ran, ",") != "Open,Describe" {
			t.Errorf("Err %v, ran %v", x.Err, x.ran)
		}
	})
	t.Run("fail/lookup", func(t *testing.T) {
		x := &fakeCodec{}
		p.Serve(x, request())
		if x.Err == nil || x.Err.Code != "UnknownOperationException" || strings.Join(x.ran, ",") != "Open,Lookup,Describe" {
			t.Errorf("Err %v, ran %v", x.Err, x.ran)
		}
	})
	t.Run("fail/reject", func(t *testing.T) {
		x := &fakeCodec{}
		big := awserr.New("RequestEntityTooLargeException", "too large")
		p.Reject(x, request(), big)
		if x.Err != big || strings.Join(x.ran, ",") != "Describe" {
			t.Errorf("Err %v, ran %v", x.Err, x.ran)
		}
	})
}
