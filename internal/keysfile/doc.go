// Package keysfile is the declarative keys file (trent serve --keys-file):
// keys with fixed key IDs, their key spec, usage, description, policy,
// tags, aliases, rotation, enabled state and, for keys of origin EXTERNAL,
// the key material to import from a file, created or brought in line at
// every start, so that test suites and development environments get
// stable key IDs.
//
// # Semantics
//
//   - A key that does not exist is created with the declared ID.
//   - A key that exists as declared is left alone: nothing is written and
//     nothing recorded.
//   - Declared mutable properties that differ (description, policy, tags,
//     aliases, rotation, enabled state, material expiry) are changed with
//     the operations of the KMS API (UpdateKeyDescription, PutKeyPolicy,
//     TagResource, UntagResource, CreateAlias, UpdateAlias, DeleteAlias,
//     EnableKeyRotation, DisableKeyRotation, EnableKey, DisableKey,
//     ImportKeyMaterial), each reported to Config.Record for the trail.
//     A property the file leaves out is not touched; tags and aliases,
//     when declared, are the key's whole set.
//   - Immutable properties that differ (account, key spec, usage, origin,
//     multi-Region, or imported material other than the key's) stop the
//     start with an error naming the key and the property.
//   - Keys the file no longer declares are left alone.
//
// The file acts as its own principal (Identity), not as any principal of
// the directory: its changes pass the key policies, which may not let any
// principal change them. Key material is read from files that only their
// owner may read, and never appears in errors, logs or records.
package keysfile
