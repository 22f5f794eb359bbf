package api

// keyStoreOps are the custom key store operations.
var keyStoreOps = []*Operation{}
