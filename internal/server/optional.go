package server

import (
	"errors"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

func openPKCS11(cfg *config.File) (rootkey.Provider, error) {
	return nil, errors.New("root key provider pkcs11 is not wired yet")
}

func openPostgres(url string) (store.Store, error) {
	return nil, errors.New("the PostgreSQL store is not wired yet")
}
