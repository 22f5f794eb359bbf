// Package k8skms is Trent's Kubernetes KMS v2 provider plugin: the gRPC API
// of k8s.io/kms (Status, Encrypt, Decrypt) that kube-apiserver calls over a
// unix socket to wrap the seeds of the data encryption keys it encrypts
// Secrets with. The plugin wraps them with one Trent key through a [Backend]:
// [Remote] calls a Trent endpoint with SigV4 (trent k8s-kms-plugin), and
// internal/node supplies one that calls the KMS service in-process, as a
// configured principal (trent serve --k8s-kms-socket).
//
// # Semantics
//
//   - Every Encrypt and Decrypt uses the encryption context
//     {"k8s-kms-plugin": CLUSTER}: a ciphertext made for one cluster's
//     apiserver decrypts for no other use, and Trent's audit trail names the
//     cluster on every call.
//   - Status encrypts a probe under the key (with the extra context member
//     "k8s-kms-plugin-probe": "status", so a probe is never mistaken for a
//     seed). Healthz is "ok" only when that succeeds: the key exists, is
//     enabled, is reachable and the plugin may use it. Otherwise Healthz
//     names the failure (an AWS exception name and message, never key
//     material) and the answer comes within the plugin's timeout, not a hang.
//   - The key ID reported to kube-apiserver is the key's ARN and the ID of
//     the key material that encrypted, "ARN:MATERIAL" (read from the
//     ciphertext header, so Status and Encrypt agree exactly). Rotating the
//     Trent key (RotateKeyOnDemand or automatic rotation) changes it, and
//     kube-apiserver generates a new seed; old ciphertexts keep decrypting,
//     because Trent keeps every material version of a key.
//   - Encrypt annotates the object with the key ARN
//     ("key-arn.trentkms.github.io"); Decrypt asks Trent to decrypt
//     under that key (or the configured key when the annotation is absent),
//     so an alias moved to a new key leaves old objects readable.
//
// No plaintext, seed, or ciphertext reaches a log or an error message.
package k8skms
