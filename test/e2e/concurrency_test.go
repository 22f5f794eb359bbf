package e2e

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// TestConcurrentWrites checks that concurrent writes to one key lose no
// acknowledged update, and that a contested alias name goes to exactly one
// caller.
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: m.KeyId,
				Tags: []types.Tag{{TagKey: aws.String(fmt.Sprint("t", i)), TagValue: aws.String(fmt.Sprint(i))}}})
		}()
	}
	wg.Wait()
	acked := 0
	for i, err := range errs {
		if err == nil {
			acked++
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() == "KMSInternalException" {
			t.Errorf("TagResource %d: %v", i, err)
		}
	}
	tags, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: m.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[*tg.TagKey] = *tg.TagValue
	}
	for i, err := range errs {
		if err == nil && got[fmt.Sprint("t", i)] != fmt.Sprint(i) {
			t.Errorf("acknowledged tag t%d lost; tags = %v", i, got)
		}
	}
	if acked == 0 {
		t.Fatal("no concurrent TagResource succeeded")
	}

	name := uniq("alias/e2e-race")
	keys := make([]*types.KeyMetadata, n)
	for i := range keys {
		keys[i] = createKey(t, c, nil)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: &name, TargetKeyId: keys[i].KeyId})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("CreateAlias %s succeeded twice (%d and %d)", name, winner, i)
			}
			winner = i
			continue
		}
		wantAPIError(t, err, "AlreadyExistsException", "An alias with the name "+aliasARN(name)+" already exists")
	}
	if winner < 0 {
		t.Fatal("no CreateAlias succeeded")
	}
	if got := describe(t, c, name); *got.KeyId != *keys[winner].KeyId {
		t.Fatalf("alias names %s, want the winner %s", *got.KeyId, *keys[winner].KeyId)
	}
}
