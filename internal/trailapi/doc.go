// Package trailapi serves the CloudTrail LookupEvents API (AWS JSON 1.1,
// X-Amz-Target com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*,
// SigV4 service "cloudtrail") over Trent's audit trail, as a codec of the
// request pipeline: the KMS JSON API (internal/server) and the IAM and STS
// query APIs (internal/iamapi) are the others. So `aws cloudtrail
// lookup-events --endpoint-url …` and CloudTrail SDK clients read the trail
// without access to the trail directory.
//
// # Contract
//
//   - LookupEvents is the only operation; any other target is
//     UnknownOperationException.
//   - The caller needs cloudtrail:LookupEvents (resource "*") in its
//     identity policies, and sees only the records its account received
//     (recipientAccountId): never another account's calls, nor records of
//     requests whose caller was never known. A call on another account's
//     resource is recorded for each account (audit.OwnerCopies): each sees
//     its own copy, the owner's naming the caller by account and principal
//     ID only.
//   - Every lookup attribute of CloudTrail matches exactly (EventId,
//     EventName, ReadOnly "true"/"false", Username, ResourceType,
//     ResourceName, EventSource, AccessKeyId); at most one is given.
//     StartTime and EndTime are inclusive and bound each record's own
//     eventTime, even where a clock was set back; MaxResults is 1 to 50 (50 by
//     default); events come newest first, and CloudTrailEvent is the
//     record's JSON exactly as the trail holds it.
//   - NextToken names the last event returned (node and sequence number)
//     and the query it belongs to: it stays valid as the trail grows and
//     across restarts, and is refused (InvalidNextTokenException) with
//     other parameters.
//   - Each lookup is itself recorded in the trail (eventSource
//     cloudtrail.amazonaws.com, read-only), before it is answered.
//   - Lookups read an audit.Index, not the trail: the cost of a call is the
//     records appended since the previous call plus the records returned.
package trailapi
