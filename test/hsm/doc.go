// Package hsm holds Trent's HSM integration tests, run against a real
// SoftHSM2 token (skipped with a clear message without cgo or SoftHSM2):
// the PKCS#11 root of trust in a running server (restart, copied data
// directory), online root-key rotation under load, AWS_CLOUDHSM-type custom
// key stores on a PKCS#11 token, and EXTERNAL_KEY_STORE custom key stores
// served by Trent's own XKS proxy.
package hsm
