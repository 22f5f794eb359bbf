// Package devclock is the development clock of `trent serve --dev`: the
// domain clock (key dates, deletion windows, rotation due dates, imported
// material expiry, STS session expiry) runs ahead of the wall clock by an
// offset that the administrator account's root advances through the
// development API (internal/devapi), so that a 7-day deletion window or a
// 90-day rotation period can be tested in seconds.
//
// # Invariants
//
//   - The offset only grows: the clock never goes back, so no key date,
//     due job or session expiry is ever seen in the wrong order.
//   - The offset is kept in the store (one record of kind Kind), so that
//     every node of a cluster and every later start of the node reads the
//     same clock; a node follows another node's advance through the change
//     feed (Clock.Reload).
//   - SigV4 signature times and the audit trail's event times keep the
//     wall clock: clients sign with real time, and CloudTrail tooling
//     expects eventTime near real time.
//   - Nothing but this package moves the domain clock in a production
//     binary.
package devclock
