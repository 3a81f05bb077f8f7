// Package events is Parley's event stream: every message stored (any
// kind: recalls, edits, group and consultation notices included), every
// read cursor moved and every presence change of an app, published once
// to a durable log per app that business backends replay from any offset
// (GET /v1/server/events) or receive as signed webhooks.
//
// The path of a stored change: the store writes an outbox row in the same
// transaction as the change (Outbox says what each write must write); the
// Relay reads the rows in commit order, expands them into events with
// stable ids (MessageEventID, ReadEventID), appends them to the EventLog
// and only then deletes the rows, so a crash at any point loses nothing
// and the log's deduplication by id keeps a repeat out. Presence is never
// stored and is published at most once. Webhooks then deliver each app's
// log to its endpoint, signed (Sign), retried with backoff and
// dead-lettered after a limit.
//
// The EventLog has two implementations, the embedded one in the SQLite
// database (internal/sqlite) and NATS JetStream (internal/jetstream), and
// one contract suite (eventstest.RunEventLogTests).
//
// # Concurrency
//
// Relay, Webhooks and Service are safe for concurrent use. A Relay owns
// one goroutine; Webhooks one manager goroutine plus one per app with a
// webhook; each is stopped and waited for by its Close. Signal's lock is
// a leaf, as is the relay's presence queue lock.
package events
