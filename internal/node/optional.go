package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/rootkey/pkcs11"
	"github.com/trentkms/trent/internal/xks"
)

// PKCS11Settings resolves the PKCS#11 settings of cfg: the configuration
// file's root_key fields, falling back to the environment's (env:
// TRENT_HSM_MODULE, TRENT_HSM_TOKEN, TRENT_HSM_PIN). The PIN is read from
// pkcs11_pin_file if set, else taken from TRENT_HSM_PIN. It returns an
// error naming what is missing, never the PIN.
func PKCS11Settings(cfg *config.File, env config.HSMEnv) (pkcs11.Config, error) {
	rk := cfg.RootKey
	pc := pkcs11.Config{Module: rk.Module, TokenLabel: rk.Token, KeyLabel: rk.KeyLabel}
	if pc.Module == "" {
		pc.Module = env.Module
	}
	if pc.TokenLabel == "" {
		pc.TokenLabel = env.Token
	}
	if pc.KeyLabel == "" {
		pc.KeyLabel = "trent-root"
	}
	if rk.PINFile != "" {
		b, err := os.ReadFile(rk.PINFile)
		if err != nil {
			return pc, fmt.Errorf("root key: pkcs11_pin_file: %w", err)
		}
		pc.PIN = strings.TrimRight(string(b), "\r\n")
	} else {
		pc.PIN = env.PIN
	}
	switch {
	case pc.Module == "":
		return pc, errors.New("root key: pkcs11 needs root_key.pkcs11_module (or TRENT_HSM_MODULE)")
	case pc.TokenLabel == "":
		return pc, errors.New("root key: pkcs11 needs root_key.pkcs11_token (or TRENT_HSM_TOKEN)")
	case pc.PIN == "":
		return pc, errors.New("root key: pkcs11 needs a PIN in root_key.pkcs11_pin_file or TRENT_HSM_PIN")
	}
	return pc, nil
}

// openPKCS11 opens the HSM root key provider. In a build without cgo it
// fails with an error wrapping hsm.ErrUnavailable, which says so.
func openPKCS11(cfg *config.File, env config.HSMEnv) (rootkey.Provider, error) {
	pc, err := PKCS11Settings(cfg, env)
	if err != nil {
		return nil, err
	}
	p, err := pkcs11.Open(pc)
	if err != nil {
		return nil, fmt.Errorf("root key provider pkcs11: %w", err)
	}
	return p, nil
}

// keyStoreConfig says how the custom key stores of a node with cfg and env
// reach their backends: the PKCS#11 module of CloudHSM-type stores, and the
// TLS settings of the XKS client.
func keyStoreConfig(cfg *config.File, env config.Env) (keystore.Config, error) {
	module := cfg.RootKey.Module
	if module == "" {
		module = env.HSM.Module
	}
	var roots *x509.CertPool
	if f := env.XKSCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return keystore.Config{}, fmt.Errorf("TRENT_XKS_CA_FILE: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return keystore.Config{}, errors.New("TRENT_XKS_CA_FILE: no PEM certificate found")
		}
	}
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true,
	}}
	return keystore.Config{
		PKCS11Module: module,
		NewXKSClient: func(c xks.ClientConfig) (*xks.Client, error) {
			c.HTTPClient = hc
			return xks.NewClient(c)
		},
	}, nil
}

// followRootKey makes the node pick up a root-key rotation done by `trent
// rotate-root-key` while it runs.
func followRootKey(n *Node) {
	reseal.Follow(n.Service, n.Root, func(err error) {
		n.log.Error("root key: cannot pick up a root-key rotation", "err", err)
	})
}
