// Package managed is the AWS managed keys concern: the alias/aws/SERVICE
// keys (KeyManager AWS) that AWS creates in an account the first time they
// are needed, built over a *kms.Service and registered with it
// (kms.ManagedKeys).
//
// # When a key comes into existence
//
// An AWS managed alias of the caller's own account that does not exist yet
// is created, with its key, when DescribeKey names it (as the AWS API
// Reference says DescribeKey does) or when the service principal of its
// service (docs/services.md) names it in any operation: the first call
// "through the service". Any other request finds no such alias
// (NotFoundException), and another account never creates one (its
// reference is refused as every cross-account reference to a missing key
// is). The key and its alias are written together, conditioned on the
// alias not existing (kms.Service.CreateAWSManagedKey): however many first
// uses race, on one node or several, an account has one key per alias.
//
// # What an AWS managed key allows
//
// Its key policy is the one AWS writes (Policy): the account's principals
// may use it through its service (kms:ViaService and kms:CallerAccount),
// and the account may read its metadata. Nothing else is allowed, to
// anyone: no principal may disable, delete, tag, re-point or change the
// policy of the key, and so every such request is refused as AWS refuses
// it, with the AccessDeniedException the policy gives. It rotates every
// year.
package managed
