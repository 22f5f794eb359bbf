package kms

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

const maxTagsPerKey = 50

// validateTags checks a Tags member the way AWS does.
func validateTags(tags []wire.Tag) error {
	var v Validator
	seen := make(map[string]bool, len(tags))
	dup, reserved := false, false
	for i, t := range tags {
		n := strconv.Itoa(i + 1)
		if v.Required(t.TagKey != nil, "tags."+n+".member.tagKey") {
			v.StrLen(t.TagKey, "tags."+n+".member.tagKey", 1, 128)
			if seen[*t.TagKey] {
				dup = true
			}
			seen[*t.TagKey] = true
			if strings.HasPrefix(strings.ToLower(*t.TagKey), "aws:") {
				reserved = true
			}
		}
		if v.Required(t.TagValue != nil, "tags."+n+".member.tagValue") {
			v.StrLen(t.TagValue, "tags."+n+".member.tagValue", 0, 256)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	switch {
	case reserved:
		return awserr.New(awserr.Tag, "Tags beginning with aws: are reserved")
	case dup:
		return awserr.New(awserr.Tag, "Duplicate tag keys")
	case len(tags) > maxTagsPerKey:
		return awserr.New(awserr.Tag, "Too many tags")
	}
	return nil
}

// tagConditions adds aws:RequestTag/* and aws:TagKeys for tags in a request.
// Tag keys are case-sensitive but condition key names are not: tag keys
// that differ only in case make their aws:RequestTag/ key ambiguous (see
// ContextConditions), rather than letting the last one win.
func tagConditions(conds map[string][]string, tags []wire.Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		name := "aws:requesttag/" + strings.ToLower(*t.TagKey)
		n := len(conds)
		conds[name] = []string{*t.TagValue}
		if len(conds) == n {
			conds[name] = policy.Ambiguous()
		}
		keys = append(keys, *t.TagKey)
	}
	conds["aws:tagkeys"] = keys
}

// TagResource implements the TagResource operation.
func (s *Service) TagResource(ctx context.Context, in *wire.TagResourceInput) (*struct{}, error) {
	var v Validator
	v.Required(in.Tags != nil, "tags")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	conds := map[string][]string{}
	tagConditions(conds, in.Tags)
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:TagResource", conds)
	if err != nil {
		return nil, err
	}
	_, err = s.UpdateKey(ctx, lk.doc.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) {
		if err := RequireNotPendingDeletion(d, lk.arn); err != nil {
			return nil, err
		}
		for _, t := range in.Tags {
			found := false
			for i := range d.Tags {
				if d.Tags[i].Key == *t.TagKey {
					d.Tags[i].Value, found = *t.TagValue, true
				}
			}
			if !found {
				d.Tags = append(d.Tags, TagDoc{Key: *t.TagKey, Value: *t.TagValue})
			}
		}
		if len(d.Tags) > maxTagsPerKey {
			return nil, awserr.New(awserr.Tag, "Too many tags")
		}
		return nil, nil
	})
	return &struct{}{}, s.StoreErr(ctx, err)
}

// UntagResource implements the UntagResource operation.
func (s *Service) UntagResource(ctx context.Context, in *wire.UntagResourceInput) (*struct{}, error) {
	var v Validator
	v.Required(in.TagKeys != nil, "tagKeys")
	for i, k := range in.TagKeys {
		v.StrLen(&k, "tagKeys."+strconv.Itoa(i+1)+".member", 1, 128)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, awserr.New(awserr.Tag, "Tags beginning with aws: are reserved")
		}
	}
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:UntagResource", map[string][]string{"aws:tagkeys": in.TagKeys})
	if err != nil {
		return nil, err
	}
	_, err = s.UpdateKey(ctx, lk.doc.ID, func(d *KeyDoc, _ int64) ([]store.Op, error) {
		if err := RequireNotPendingDeletion(d, lk.arn); err != nil {
			return nil, err
		}
		kept := d.Tags[:0]
		for _, t := range d.Tags {
			drop := false
			for _, k := range in.TagKeys {
				if t.Key == k {
					drop = true
				}
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		d.Tags = kept
		return nil, nil
	})
	return &struct{}{}, s.StoreErr(ctx, err)
}

// ListResourceTags implements the ListResourceTags operation.
func (s *Service) ListResourceTags(ctx context.Context, in *wire.ListResourceTagsInput) (*wire.ListResourceTagsOutput, error) {
	var v Validator
	limit := PageLimit(&v, in.Limit, 50, 50)
	v.StrLen(in.Marker, "marker", 1, 1024)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, err := s.OwnedKey(ctx, in.KeyID, "keyId", "kms:ListResourceTags", nil)
	if err != nil {
		return nil, err
	}
	tags := append([]TagDoc(nil), lk.doc.Tags...)
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	out := &wire.ListResourceTagsOutput{Tags: []wire.Tag{}}
	for _, t := range tags {
		if in.Marker != nil && t.Key <= *in.Marker {
			continue
		}
		if len(out.Tags) == limit {
			out.Truncated = true
			out.NextMarker = *out.Tags[len(out.Tags)-1].TagKey
			break
		}
		k, val := t.Key, t.Value
		out.Tags = append(out.Tags, wire.Tag{TagKey: &k, TagValue: &val})
	}
	return out, nil
}
