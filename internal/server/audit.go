package server

import (
	"encoding/json"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/pipeline"
	"github.com/trentkms/trent/internal/wire"
)

// Record implements pipeline.Codec: the KMS fields of the audit record.
func (c *call) Record(r *pipeline.Request, ev *audit.Event) {
	ev.EventSource = "kms.amazonaws.com"
	ev.EventName = c.Name
	ev.AWSRegion = c.s.cfg.Region
	ev.ReadOnly = c.op == nil || c.op.ReadOnly
	if r.TLS {
		ev.TLSDetails = &audit.TLSDetails{ClientProvidedHostHeader: r.Host}
	}
	// The parameters come from the input the operation decoded (none if
	// it was not decoded), never from a second parse of the body: the
	// record names what the operation acted on.
	if p, ok := c.in.(auditParameters); ok {
		ev.RequestParameters = p.AuditParameters()
	} else if c.in != nil {
		ev.RequestParameters = audit.SafeInput(c.Name, c.in)
	}
	if len(c.trace.GrantIDs) > 0 {
		if ev.RequestParameters == nil {
			ev.RequestParameters = map[string]any{}
		}
		ev.RequestParameters["grantIds"] = c.trace.GrantIDs
	}
	for _, key := range resourceOrder(c) {
		account := arnAccount(key)
		ev.Resources = append(ev.Resources, audit.Resource{AccountID: account, Type: "AWS::KMS::Key", ARN: key,
			Allowed: c.trace.Allowed(key)})
		if ev.RecipientAccountID == "" {
			ev.RecipientAccountID = account
		}
	}
	if c.Err == nil && c.op != nil && !c.op.Crypto && !c.op.ReadOnly {
		ev.ResponseElements = responseElements(c.Name, c.Out)
	}
}

// resourceOrder returns the key ARNs of the call in CloudTrail's order: for
// ReEncrypt the source key comes before the destination key, although the
// destination key is resolved (and traced) first.
func resourceOrder(c *call) []string {
	arns := c.trace.KeyARNs
	o, ok := c.Out.(*wire.ReEncryptOutput)
	if !ok || o == nil || len(arns) < 2 || arns[0] == o.SourceKeyID {
		return arns
	}
	out := make([]string, 0, len(arns))
	out = append(out, o.SourceKeyID)
	for _, a := range arns {
		if a != o.SourceKeyID {
			out = append(out, a)
		}
	}
	return out
}

// auditParameters is implemented by the inputs of hot operations, which
// describe themselves for the audit trail without a second decode of the
// body. The result must follow audit.SafeParameters' rules.
type auditParameters interface {
	AuditParameters() map[string]any
}

// responseElements returns the audit-safe response of a management call.
func responseElements(op string, out any) any {
	if out == nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || len(m) == 0 {
		return nil
	}
	return audit.SafeParameters(op, m)
}

// arnAccount returns the account field of an ARN
// (arn:partition:service:region:account:resource), or "" if it has fewer
// than six fields.
func arnAccount(s string) string {
	f, ok := arn.Split(s)
	if !ok {
		return ""
	}
	return f[4]
}
