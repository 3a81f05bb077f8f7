// Package inmem implements parley.Registry and parley.Bus within one
// process: the connection table and the node-to-node bus of the embedded,
// single-node default. Both pass the contract suites in parleytest.
//
// Concurrency: Registry and Bus are safe for concurrent use by any number
// of goroutines. Registry keeps its rows in 64 shards, each behind its own
// RWMutex; no call holds more than one shard lock at a time. Bus owns one
// goroutine per listening node, started by Listen and ended by the stop
// function Listen returns or by Close, both of which wait for it to exit;
// Bus.mu is never held while a handler runs, so handlers may call Send.
// Neither type starts any other goroutine.
package inmem
