package authz

import (
	"strconv"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
)

// maxResourceAliases is the number of aliases above which AWS KMS does not
// evaluate kms:ResourceAliases (the key is treated as having none).
const maxResourceAliases = 50

var (
	valTrue    = []string{"true"}
	valFalse   = []string{"false"}
	valPrimary = []string{"PRIMARY"}
)

// reqContext is the policy.Context of one request: the domain's
// request-specific condition keys first, then the keys derived from the
// caller, the key and the clock, computed only when a policy asks.
type reqContext struct {
	a      *Authorizer
	caller *kms.Caller
	conds  map[string][]string
	key    *kms.KeyRequest // nil for account actions

	one     [8]string // backing store for computed single values, one slot per key family
	aliases []string
	loaded  bool
	// err is why a condition key's values could not be computed. The
	// key then looks absent to the evaluation, so AuthorizeKey refuses
	// the request with err whatever the evaluation decided.
	err error
}

// Get returns the values of a lowercased condition key.
func (c *reqContext) Get(key string) ([]string, bool) {
	if v, ok := c.conds[key]; ok {
		return v, true
	}
	switch key {
	case "aws:sourceip":
		if c.caller.SourceIP == "" {
			return nil, false
		}
		return c.single(0, c.caller.SourceIP), true
	case "aws:securetransport":
		if c.caller.SecureTransport {
			return valTrue, true
		}
		return valFalse, true
	case "aws:currenttime":
		return c.single(1, c.a.now().UTC().Format(time.RFC3339)), true
	case "aws:epochtime":
		return c.single(2, strconv.FormatInt(c.a.now().Unix(), 10)), true
	case "aws:useragent":
		if c.caller.UserAgent == "" {
			return nil, false
		}
		return c.single(3, c.caller.UserAgent), true
	case "aws:requestedregion":
		// The region the request was signed for; an action on a key
		// without it (a caller built in process) has the key's.
		r := c.caller.Region
		if r == "" && c.key != nil {
			r = arn.Field(c.key.KeyARN, 3)
		}
		if r == "" {
			return nil, false
		}
		return c.single(4, r), true
	case "kms:viaservice", "aws:sourceaccount", "aws:sourcearn":
		return c.service(key)
	}
	k := c.key
	if k == nil {
		return nil, false
	}
	switch key {
	case "kms:keyspec", "kms:customermasterkeyspec":
		return c.nonEmpty(5, k.KeySpec)
	case "kms:keyusage", "kms:customermasterkeyusage":
		return c.nonEmpty(6, k.KeyUsage)
	case "kms:keyorigin":
		return c.nonEmpty(7, k.KeyOrigin)
	case "kms:multiregion":
		if k.MultiRegion {
			return valTrue, true
		}
		return valFalse, true
	case "kms:multiregionkeytype":
		if k.MultiRegion {
			return valPrimary, true
		}
		return nil, false
	case "kms:resourcealiases":
		if !c.loaded {
			c.loaded = true
			if k.Aliases != nil {
				c.aliases, c.err = k.Aliases()
			}
			if len(c.aliases) > maxResourceAliases {
				c.aliases = nil
			}
		}
		if len(c.aliases) == 0 {
			return nil, false
		}
		return c.aliases, true
	}
	if tag, ok := strings.CutPrefix(key, "aws:resourcetag/"); ok {
		// Condition key names are case-insensitive, so the tag key is
		// matched without regard to case; tag keys are not, and a key
		// tagged both "Dept" and "dept" gives the condition key no single
		// value.
		var val []string
		for tk, tv := range k.Tags {
			if policy.FoldEqual(tk, tag) {
				if val != nil {
					return policy.Ambiguous(), true
				}
				val = []string{tv}
			}
		}
		return val, val != nil
	}
	return nil, false
}

func (c *reqContext) single(slot int, v string) []string {
	c.one[slot] = v
	return c.one[slot : slot+1 : slot+1]
}

func (c *reqContext) nonEmpty(slot int, v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	return c.single(slot, v), true
}

// service returns the condition keys of a service principal's request
// (docs/services.md): kms:ViaService, the service's endpoint in the Region
// of the key (or of the request); aws:SourceAccount, the account it serves;
// aws:SourceArn, when it named the resource it acts for. Other callers'
// requests have none of them, whatever they send.
func (c *reqContext) service(key string) ([]string, bool) {
	if c.caller.Service == "" {
		return nil, false
	}
	switch key {
	case "kms:viaservice":
		r := ""
		if c.key != nil {
			r = arn.Field(c.key.KeyARN, 3)
		}
		if r == "" {
			r = c.caller.Region
		}
		if r == "" {
			return nil, false
		}
		return []string{c.caller.Service + "." + r + ".amazonaws.com"}, true
	case "aws:sourceaccount":
		return []string{c.caller.Account}, true
	}
	if c.caller.SourceARN == "" {
		return nil, false
	}
	return []string{c.caller.SourceARN}, true
}
