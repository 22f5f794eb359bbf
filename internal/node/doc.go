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
// # Imports
//
// node sits above every other package of a node and below cmd/trent: it
// imports internal/server (to build the HTTP server) and the domain
// packages; nothing but cmd/trent and tests imports node, and
// internal/server never does.
package node
