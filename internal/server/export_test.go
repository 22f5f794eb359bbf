package server

// MaxWireBody is maxWireBody, for the external tests (package server_test),
// which start whole nodes (internal/node, which imports this package).
const MaxWireBody = maxWireBody
