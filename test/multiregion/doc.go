// Package multiregion tests multi-Region keys across Trent deployments
// black-box: real `trent serve` processes, one per Region, each with its
// own data directory and root key, linked by their peers configuration,
// driven by aws-sdk-go-v2. A capturing proxy sits between the deployments
// and the tests scan what crossed for the key material they know.
package multiregion
