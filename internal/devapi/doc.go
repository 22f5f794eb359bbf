// Package devapi is the development API of `trent serve --dev`: the
// operations that move the development clock (package devclock), served on
// the Trent endpoint as an AWS JSON 1.1 protocol with X-Amz-Target
// TrentDevelopment.<operation>, through the same pipeline as every other
// call (SigV4, the failure limiter, the audit trail).
//
//   - AdvanceClock {"Seconds": N}: moves the clock forward by N seconds
//     (1 to 100 years' worth); the answer is the clock after the step.
//   - GetClock {}: the clock as it is.
//
// Only the root user of the administrator's account may call them; IAM
// users, role sessions and other accounts' roots get AccessDeniedException.
// A node started without --dev does not mount the protocol: its targets
// are then unknown operations of the KMS API, answered exactly as any
// unknown target is (UnknownOperationException).
//
// Every call is recorded in the audit trail (eventSource EventSource), with
// the offsets before and after a step.
package devapi
