package kms

import "context"

// fixedKeyIDKey carries the key ID CreateKey must give the key it creates.
type fixedKeyIDKey struct{}

// WithKeyID returns ctx in which CreateKey gives the key it creates the ID
// id instead of a new random one: the fixed key IDs of the keys file
// (package keysfile), which validates id. A request's context never carries
// it. If a key with that ID exists, CreateKey fails (the store refuses the
// second record), so two nodes applying one file create one key.
func WithKeyID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, fixedKeyIDKey{}, id)
}

// createKeyID is the ID of a key CreateKey creates in ctx.
func createKeyID(ctx context.Context, multiRegion bool) string {
	if id, ok := ctx.Value(fixedKeyIDKey{}).(string); ok {
		return id
	}
	return newKeyID(multiRegion)
}
