package api

import (
	"context"

	"github.com/trentkms/trent/internal/replica"
	"github.com/trentkms/trent/internal/wire"
)

// The multi-Region key operations (package replica).
var multiRegionOps = []*Operation{
	{Name: "ReplicateKey", Action: "kms:ReplicateKey", Handler: on(replicas, (*replica.Service).ReplicateKey)},
	{Name: "UpdatePrimaryRegion", Action: "kms:UpdatePrimaryRegion", Handler: on(replicas, (*replica.Service).UpdatePrimaryRegion)},
}

func replicas(s *Services) *replica.Service { return s.Replicas }

var (
	_ func(*replica.Service, context.Context, *wire.ReplicateKeyInput) (*wire.ReplicateKeyOutput, error) = (*replica.Service).ReplicateKey
)
