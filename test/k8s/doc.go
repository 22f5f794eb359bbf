// Package k8s tests trent k8s-kms-plugin (and trent serve --k8s-kms-socket)
// with kube-apiserver's own KMS v2 code: the envelope transformer of
// k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2, its gRPC client
// over the plugin's real unix socket, and the EncryptionConfiguration loader
// of k8s.io/apiserver/pkg/server/options/encryptionconfig, against real
// trent serve processes.
//
// It is a module of its own so that k8s.io/apiserver and what it brings stay
// out of Trent's module: the trent binary links k8s.io/kms (the API and its
// gRPC server) and nothing else of Kubernetes. Run it from this directory:
//
//	cd test/k8s && go test ./...
//	cd test/k8s && go test -run '^$' -bench . -benchtime 200x
package k8s
