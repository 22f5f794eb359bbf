package iam

// Known reports whether akid is an access key this node has loaded and not
// dropped since (it may have been disabled or deleted on another node
// meanwhile). It never reads the store, so a server can use it to decide
// cheaply whether a request from a throttled source deserves verification:
// a client with a key in use keeps being served, while lookups of other
// keys are rationed (internal/authfail).
func (d *Directory) Known(akid string) bool { return d.keys.Has(akid) }
