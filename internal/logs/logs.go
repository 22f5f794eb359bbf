package logs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// Formats of the log.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// RequestIDAttr is the attribute that names a request in a log line.
const RequestIDAttr = "requestId"

// requestIDKey is the context key of a request's ID.
type requestIDKey struct{}

// RequestIDKey is the context key whose value is a request's ID (a string).
var RequestIDKey any = requestIDKey{}

// RequestID returns the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(RequestIDKey).(string)
	return id
}

// WithRequestID returns a context carrying id, for code that has no
// pipeline context (tests, background work on behalf of a request).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, RequestIDKey, id)
}

// New returns a logger writing lines of format (FormatText or FormatJSON;
// "" is text) at level and above to w, each line logged with a request's
// context carrying its ID. It returns an error naming the formats for any
// other format.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "", FormatText:
		h = slog.NewTextHandler(w, opts)
	case FormatJSON:
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(Handler{h}), nil
}

// Handler adds the request ID of a record's context to the records of its
// inner handler.
type Handler struct{ Inner slog.Handler }

// Enabled implements slog.Handler.
func (h Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.Inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" && !hasRequestID(r) {
		r = r.Clone()
		r.AddAttrs(slog.String(RequestIDAttr, id))
	}
	return h.Inner.Handle(ctx, r)
}

func hasRequestID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == RequestIDAttr
		return !found
	})
	return found
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Inner.WithAttrs(as)} }

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Inner.WithGroup(name)} }
