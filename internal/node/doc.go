// Package node assembles a Trent node from its configuration: it opens the
// store and the root of trust, builds the domain (the core and the concerns
// beside it), the principal directory, the audit trail and its anchor in the
// store, wires HSM and XKS backends and the background jobs, bootstraps the
// administrator credential, follows root-key rotations, and hands the whole
// to internal/server, which serves it over HTTP (Start, Node). The offline
// commands that need the same pieces come through here too, so that they
// find the same key and refuse the same mistakes: `trent admin`
// (OpenDirectory), `trent rotate-root-key` (RotateRootKey), `trent root-key
// move` (MoveRootKey) and `trent audit` (AuditDataDir).
//
// # What it reads
//
// Settings come as values: the configuration file (config.File), with the
// command line applied over it, and the process environment read once by
// config.FromEnv (config.Env). Nothing here reads the environment itself.
//
// # Imports
//
// node sits above every other package of a node and below cmd/trent: it
// imports internal/server (to build the HTTP server) and the domain
// packages; nothing but cmd/trent and tests imports node, and
// internal/server never does.
//
// # Test hooks
//
// A binary built with the trenttest build tag honours two test-only clock
// hooks (see testhooks.go and config.TestHooks) that black-box tests use to
// drive child processes; the production build ignores them, saying so.
package node
