package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// TestAWSManagedKeyAcrossNodes: the first uses of an AWS managed alias,
// racing on two nodes of one cluster, make one key (docs/services.md).
func TestAWSManagedKeyAcrossNodes(t *testing.T) {
	storeURL := pgtest.FreshSchema(t, pgtest.BaseURL(t))
	c := newCluster(t, 2, storeURL)
	for _, nd := range c.nodes {
		nd.start(t)
	}
	for _, nd := range c.nodes {
		nd.waitReady(t, 60*time.Second)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	for _, nd := range c.nodes {
		cl := nd.client()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/dynamodb")})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("DescribeKey on %s: %v", nd.id, err)
					return
				}
				if out.KeyMetadata.KeyManager != types.KeyManagerTypeAws {
					t.Errorf("KeyManager %s", out.KeyMetadata.KeyManager)
				}
				ids[aws.ToString(out.KeyMetadata.KeyId)]++
			}()
		}
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("concurrent first uses on two nodes made keys %v", ids)
	}
	keys, err := c.nodes[0].client().ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	managed := 0
	for _, k := range keys.Keys {
		if _, ok := ids[aws.ToString(k.KeyId)]; ok {
			managed++
		}
	}
	if managed != 1 || len(keys.Keys) != 1 {
		t.Fatalf("ListKeys: %d keys, the managed one %d times", len(keys.Keys), managed)
	}
}
