// Command compat drives Trent (or any AWS-KMS-compatible endpoint) with the
// Go clients people use against AWS KMS: aws-sdk-go-v2 service/kms, Tink's
// tink-go-awskms and the Vault/OpenBao awskms seal from go-kms-wrapping.
//
// It lives in its own module so that these clients' dependency trees stay out
// of Trent's go.mod.
//
// # Contract
//
// The target comes from the environment only: COMPAT_ENDPOINT (http:// or
// https:// URL), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and,
// for HTTPS with a private CA, AWS_CA_BUNDLE (test/compat/run.sh sets it
// from COMPAT_CA). Every client is given the endpoint explicitly, so none can
// reach the real AWS. Each check prints exactly one line,
// "PASS <client>: <what>" or "FAIL <client>: <reason>"; the exit status is 1
// if any check failed. Key material and plaintexts never appear in the output.
package main
