package hsm_test

import (
	"context"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/wire"
	"github.com/trentkms/trent/internal/xks"
)

// TestCustomKeyStoreQuota: an account's quota of custom key stores (set as
// `trent admin quotas set --custom-key-stores` sets it) refuses the store
// past it with LimitExceededException, whatever its type, and deleting a
// store makes room again.
func TestCustomKeyStoreQuota(t *testing.T) {
	cfg := hsmConfig(t, cloudToken) // first: it adds the token the module then lists
	srv, _ := startProxy(t)
	hc := srv.Client()
	svc := newService(t, keystore.Config{PKCS11Module: cfg.Module, XKSTimeout: 2 * time.Second,
		NewXKSClient: func(c xks.ClientConfig) (*xks.Client, error) {
			c.HTTPClient = hc
			return xks.NewClient(c)
		}})
	if _, err := quota.Update(context.Background(), svc.Store(), rootCaller.Account, func(q *quota.Quotas) error {
		q.Resources.CustomKeyStores = 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	svc.Quotas().Reload(rootCaller.Account) // what the change feed does on a node
	xksID, err := createXKSStore(t, svc, "quota-xks", srv.URL, xksSecret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = createCloudStore(t, svc, "quota-cloud", cloudCluster, cloudPIN)
	wantAWS(t, err, awserr.LimitExceeded, "The request was rejected because the number of custom key stores in this account exceeds the limit of 1.")
	if _, err := svc.KeyStores.DeleteCustomKeyStore(callerCtx(), &wire.CustomKeyStoreIDInput{CustomKeyStoreID: &xksID}); err != nil {
		t.Fatal(err)
	}
	if _, err := createCloudStore(t, svc, "quota-cloud", cloudCluster, cloudPIN); err != nil {
		t.Fatalf("CreateCustomKeyStore after a deletion: %v", err)
	}
}
