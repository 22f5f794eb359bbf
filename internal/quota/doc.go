// Package quota holds AWS KMS's resource quotas and request-rate quotas,
// per account: the defaults (AWS's, or a node's configuration), each
// account's own settings (store records of Kind, written by `trent admin
// quotas`), and the enforcement of the rates with a lock-free token bucket
// per account and rate class (Table.Allow).
//
// # Invariants
//
//   - Allow with no rate quota anywhere is one atomic load; otherwise it
//     takes no lock and allocates nothing after an account's first request.
//   - Of concurrent requests at one instant, exactly the bucket's burst is
//     allowed (a compare-and-swap on the bucket's theoretical arrival time).
//   - An account's settings reach every node through the change feed
//     (Table.Reload); a setting a node cannot read keeps the previous one.
//   - Resource quotas are only values here: the packages that own the
//     resources count them exactly (docs/quotas.md).
//
// The rate classes are AWS's: the shared cryptographic classes by key type
// (SpecClass), GenerateDataKeyPair by key pair spec, and each control-plane
// operation (docs/quotas.md lists them with AWS's defaults).
package quota
