package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/console"
	"github.com/trentkms/trent/internal/server"
)

// apiConsole returns the API listener's configuration: with the web
// console at /console/, unless it is off or has a listener of its own.
func apiConsole(cfg *config.File, scfg server.Config) server.Config {
	if cfg.ConsoleOn() && cfg.Console.Listen == "" {
		scfg.Console = console.New()
	}
	return scfg
}

// startConsole sets ConsoleEndpoint and, with console.listen, serves the
// console on a listener of its own. That listener serves the same APIs
// as the API listener (scfg: same handlers, TLS, limits and failure
// limiter), because the console calls them on its own origin; the
// console has no privilege there either. Its connections count against
// the API server's connection limits: the limit derived from
// RLIMIT_NOFILE is the process's, not each listener's.
func (n *Node) startConsole(cfg *config.File, scfg server.Config, log *slog.Logger) error {
	if !cfg.ConsoleOn() {
		return nil
	}
	if cfg.Console.Listen == "" {
		n.ConsoleEndpoint = n.Endpoint + console.Prefix
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Console.Listen)
	if err != nil {
		return fmt.Errorf("console listener: %w", err)
	}
	scfg.Console = console.New()
	scfg.ShareConnections = n.Server
	n.consoleSrv = server.New(scfg)
	scheme, _, _ := strings.Cut(n.Endpoint, "://")
	n.ConsoleEndpoint = scheme + "://" + ln.Addr().String() + console.Prefix
	go func() {
		if err := n.consoleSrv.Serve(ln); err != nil {
			log.Error("console listener", "err", err)
		}
	}()
	return nil
}

// stopConsole stops the console's own listener, if any, before the API's
// (whose shutdown closes the failure limiter they share).
func (n *Node) stopConsole(ctx context.Context) {
	if n.consoleSrv != nil {
		n.consoleSrv.Shutdown(ctx)
	}
}
