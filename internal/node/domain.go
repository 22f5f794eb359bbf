package node

import (
	"github.com/trentkms/trent/internal/api"
	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/keyimport"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/managed"
	"github.com/trentkms/trent/internal/reseal"
)

// newServices builds the domain services of a node: the core, then the
// concerns beside it, each registering with the core as it is built. The
// job runner comes right after the core: it takes the change feed's
// position, which must precede anything the caches hold.
func newServices(kcfg kms.Config, jcfg job.Config, kscfg keystore.Config) (api.Services, error) {
	svc, err := kms.New(kcfg)
	if err != nil {
		return api.Services{}, err
	}
	jobs, err := job.New(svc, jcfg)
	if err != nil {
		return api.Services{}, err
	}
	managed.New(svc)
	return api.Services{KMS: svc, Grants: grant.New(svc, grant.Config{}), Imports: keyimport.New(svc),
		KeyStores: keystore.New(svc, kscfg), Jobs: jobs}, nil
}

// resealers are the services whose secrets a root-key rotation re-seals,
// in the order they re-seal them.
func resealers(s *api.Services) []reseal.Resealer {
	return []reseal.Resealer{s.KMS, s.KeyStores, s.Imports}
}
