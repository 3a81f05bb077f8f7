// Package sqlite is Parley's embedded storage: a parley.Store on one SQLite
// file, through the pure-Go modernc.org/sqlite driver (no cgo).
//
// # Concurrency
//
// A *DB is safe for concurrent use by any number of goroutines. It holds two
// connection pools on the same file: a writer with exactly one connection,
// whose transactions begin IMMEDIATE, and a pool of query-only readers.
// Every write (Append, MarkRead, EnsureConversations, ...) therefore runs
// alone, in the order the writer connection is obtained; reads run in
// parallel with the writer and with each other and see the last committed
// state (WAL snapshot isolation). Because writes are serialised, callers get
// throughput by batching: a transaction's fixed cost (commit, WAL write) is
// shared by the whole batch, and BenchmarkAppend measures a 256-message
// Append at about a quarter of the per-message cost of single-message ones.
//
// # Durability
//
// The file runs in WAL mode with synchronous=NORMAL. A transaction that
// has committed (Append returned nil) is in the WAL and survives the
// process being killed (kill -9, panic, OOM): the operating system already
// holds the written pages. It does not survive a power loss or kernel crash
// before the next WAL checkpoint's fsync; the last transactions can then be
// lost, but the database is never corrupted. That is the trade Parley
// makes for the embedded store: synchronous=FULL would fsync every commit
// and cap writes at the disk's fsync rate. Deployments that need
// power-loss durability for every acknowledged message use the PostgreSQL
// store.
//
// # Change versions
//
// Every change a member must see on sync gives the member's row a version
// from one counter row (change_ver). The single writer reads the counter
// once per transaction and hands out consecutive values, so versions are
// unique, grow in commit order, and a later change always carries a larger
// version than any earlier one for any user.
package sqlite
