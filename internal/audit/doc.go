// Package audit keeps Trent's audit trail: one record for every API call
// (successful, failed or denied) and every scheduled action, shaped like an
// AWS CloudTrail event for KMS, durable before the call is answered, and
// tamper-evident.
//
// # Durability
//
// Log.Append returns nil only after the record has been written and
// fdatasync'ed. One writer goroutine batches every record that arrived while
// the previous fsync ran (group commit), so many concurrent calls share one
// fsync. If a write or sync fails, Append returns an error and the server
// must fail the call (fail closed); a failed fsync makes the Log unusable
// (ErrFailed), because the kernel may have dropped the dirty pages. A
// record is never acknowledged before it is durable; a record may be
// durable although its call failed (the process died, or the context
// ended, between the write and the answer). Log.AppendAll writes several
// records (a call that crossed accounts: the caller's record and each
// owner's, see OwnerCopies) in one batch, durable together or not at all.
//
// # Layout and tamper evidence
//
// A trail directory holds, per node, segment files of JSON lines, a digest
// file and the digest public key(s); see docs/audit.md. Each line is
//
//	{"seq":N,"prev":"<hex>","hash":"<hex>","event":{...}}
//
// where hash = SHA-256(prev ‖ uint64be(N) ‖ event bytes) and the first
// record's prev is SHA-256("trent-audit-v1\x00" ‖ node). The line must be
// byte-for-byte that layout, so any modified byte is detected. Sequence
// numbers are contiguous across segments of a node. At Open, every
// DigestInterval while records arrive, at least every HeartbeatInterval
// while none do, at rotation, at retention and at Close, the Log appends
// to the digest file an Ed25519-signed Digest naming the last sequence
// number and hash, chained to the previous digest by its hash and its
// signature. Verify reports the first record modified, removed, inserted,
// reordered or truncated, and gaps, forgeries and breaks in the digest
// chain, including a period without a digest while the node ran.
//
// # Completeness
//
// A chain of digests cannot show that its own end was cut. The Log saves
// each durable digest to an Anchor outside the trail directory (Trent's
// store): Open refuses a trail that ends before its anchor (ErrTruncated)
// unless the operator accepts the loss, which is then recorded, and Verify
// reports such a trail as truncated. Records after the last digest are
// protected by the hash chain only.
//
// # Signing key
//
// Operators verify digests with a trusted copy of the signer's public key,
// so the signer never changes silently: Open refuses a Signer that is not
// the key of the trail's latest digest (or of its anchor) with
// ErrSignerChanged, unless Options.ReplaceSigner says the old key is lost;
// then the first digest under the new key is a signed DigestKeyReplaced
// digest naming the previous key and carrying the new public key, and an
// AuditSigningKeyReplaced event follows. Verify reports a replacement by a
// key it does not trust (ProblemKeyReplaced) and names the new key.
//
// # Space
//
// A free-space monitor reports a volume below its watermark (Health). When
// a write fails for lack of space, the Log frees its reserve file, records
// the event there, and Accepting refuses new calls until space is back;
// then it resumes by itself.
//
// # Invariants
//
//   - Only the writer goroutine writes files; Open takes an exclusive flock
//     per node, so one process writes one node's trail.
//   - Records never hold plaintext, ciphertext, key material, signatures,
//     MACs or secrets: callers build requestParameters with SafeParameters.
//     Nothing in this package logs event contents.
//   - Open cuts only a torn tail (an unterminated last line, or NUL-filled
//     lines) left by a crash; it never removes a complete line, and it
//     refuses a trail that ends before what its own digests or its anchor
//     cover.
//   - The anchor is saved only after the digest it names is durable, in
//     digest order: it is never ahead of the disk.
//   - No record is acknowledged unless durable, full volume or not; record
//     numbers are never reused, even after an accepted truncation.
//   - Retention removes whole segments, only those a signed digest covers,
//     only after recording an AuditRetention event and writing a signed
//     retention digest, so Verify can tell retention from removal.
package audit
