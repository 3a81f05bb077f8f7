// Package parleytest holds the contract test suites that every adapter of
// Parley's domain interfaces runs: RunStoreTests for parley.Store, and the
// suites for the other interfaces with two or more implementations. A suite
// is the executable form of the interface's doc comments; an adapter's own
// test file calls it with a function that opens a fresh instance.
//
// The package has no global state and starts no goroutine that outlives a
// suite's call, so suites may run in parallel test binaries against shared
// servers: each subtest works in an app of its own with ids no other run
// uses.
package parleytest
