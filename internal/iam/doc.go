// Package iam holds Trent's principals: accounts, IAM users and roles, their
// access keys and policies, and temporary credentials from STS. It answers
// the two questions the server asks of every request: what is the secret of
// this access key (sigv4.CredentialSource), and who is its principal.
//
// Secret access keys are sealed by the root key before they are stored and
// are held in the clear only in memory.
package iam
