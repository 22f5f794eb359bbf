// Package dirlock gives one process at a time a directory: an exclusive
// advisory lock (flock) on a lock file in it, held until Release or the
// process ends, so that a second `trent serve` on the same data directory
// is refused instead of corrupting the audit trail and racing the first on
// the store and the key files.
//
// # Invariants
//
//   - The lock belongs to the open file, not to the process: the kernel
//     drops it when the process dies, however it dies, so a crash never
//     leaves a stale lock behind. The lock file itself stays (removing it
//     would let a third process lock a new file while the second still
//     waits on the old one).
//   - The holder writes its process ID into the lock file, so that the
//     refusal can name it. The ID is a hint for the operator: it is read
//     without the lock and can be empty or stale.
//   - Locks are per open file description, so a second Lock of the same
//     path in the same process is refused too.
package dirlock
