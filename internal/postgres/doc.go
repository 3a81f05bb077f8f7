// Package postgres is Parley's production storage on PostgreSQL, through
// pgx (pgxpool), for any number of identical nodes sharing one database:
// a parley.Store, a files.Catalog, a consult.Store, the event stream's
// events.Outbox (written by the store's own writes), events.EventLog
// (Store.EventLog) and events.WebhookStore, and a notify.Store. It passes
// the same contract suites as the embedded SQLite store (internal/sqlite),
// which is the reference for what each method does; the comments here say
// how. Migrations (goose, embedded) run at Open under an advisory lock,
// or alone through Migrate.
//
// # Concurrency and lock order
//
// A *Store is safe for concurrent use, and any number of Stores in any
// number of processes may use one database. Every write is one READ
// COMMITTED transaction on the primary; what makes concurrent writers
// correct is row locks, always taken in this order:
//
//  1. conversation rows, in (app, id) order: Append locks its batch's
//     conversations before it assigns seqs (so seqs are gapless and
//     strictly increasing per conversation however many nodes append),
//     ChangeGroup locks its group's, consult's Open and Transition their
//     thread's;
//  2. rows that belong to that conversation: the group's, the
//     consultation's, then the agents whose load changes (in id order);
//  3. member rows, in (app, conversation, user) order: those whose read
//     cursor, settings or version the transaction writes;
//  4. last, a counter (table counters): see below.
//
// A transaction that holds a counter never waits for another lock, so no
// cycle can form through the counters; deadlocks PostgreSQL still
// detects elsewhere (two upserts creating the same new users in different
// orders) and serialization failures are retried, up to three attempts.
//
// # Change versions
//
// Sync pages by versions (Changes since a version, Contacts and
// ProfilesSince likewise), so a reader must never see a version while a
// smaller one can still commit: a device that synced up to 10 would never
// see a 9 that committed later. A sequence cannot promise that (numbers
// are taken in one order and committed in another). Versions therefore
// come from counter rows bumped with UPDATE ... RETURNING in the writing
// transaction and locked until it commits: the transaction that takes the
// next version waits until the last one has committed, so versions become
// visible in the order they were handed out. A counter covers exactly the
// space a reader pages over: the app's conversations and members
// ('changes', which Changes merges across direct rows and group
// conversations), the app's profiles ('profiles'), one user's contact
// list ('contacts/<user>'), the app's event log positions ('events'). Writers of one app's changes thus commit one
// at a time from the counter to the commit; the counter is taken in the
// transaction's last statement, so it is held for that statement and the
// commit only, and writers batch (Append takes up to 512 messages). Apps
// do not contend with each other. Decision record 0005 has the numbers
// and the alternatives.
//
// # Reads
//
// Changes, Conversations and everything a write must be followed by read
// the primary. Messages and SearchMessages read the replica given by
// WithReplica, if any: a replica lags, and clients pull again what they
// miss (seqs are gapless), where a missed version would be lost for good.
//
// # Search
//
// internal/textsearch analyses text in Go; the store keeps each
// message's tokens as a tsvector with explicit positions (one lexeme per
// token, never through a PostgreSQL parser or dictionary) under a GIN
// index, and a query is a tsquery of quoted lexemes: a phrase (<->) for a
// CJK run's bigrams, :* for the prefix, & between terms.
//
// # Durability
//
// A write that returned nil has committed on the primary with the
// server's synchronous_commit setting (on by default: flushed to its WAL
// before the commit returns).
package postgres
