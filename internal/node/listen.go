package node

import (
	"fmt"
	"net"

	"github.com/trentkms/trent/internal/config"
)

// listenAddress returns the address the API listener opens. A listen
// address is admitted for plain HTTP and for --dev only if it is loopback,
// and "localhost" passes that check by its name: what the name resolves to
// (a hosts file or a resolver that maps it elsewhere) is only known here.
// In those two cases the name is resolved once, the address it resolves to
// must be loopback, and the listener opens that address, not the name, so
// that a second resolution cannot land elsewhere. Otherwise the address is
// listened on as given.
func listenAddress(cfg *config.File) (string, error) {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("config: listen address %q: %w", cfg.Listen, err)
	}
	plain := cfg.TLS.Cert == "" && !cfg.InsecureHTTP
	if net.ParseIP(host) != nil || (!plain && !cfg.Dev) {
		return cfg.Listen, nil
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("config: listen address %q: %w", cfg.Listen, err)
	}
	if !addr.IP.IsLoopback() {
		if cfg.Dev {
			return "", fmt.Errorf("config: refusing --dev on non-loopback address %s: %s resolves to %s; the development clock is for a developer's own machine; listen on 127.0.0.1 or ::1", cfg.Listen, host, addr.IP)
		}
		return "", fmt.Errorf("config: refusing to serve plain HTTP on non-loopback address %s: %s resolves to %s; configure --tls-cert/--tls-key or pass --insecure-http", cfg.Listen, host, addr.IP)
	}
	return addr.String(), nil
}
