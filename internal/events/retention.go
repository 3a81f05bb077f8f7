package events

import "context"

// Trimmer is an EventLog that can drop old events itself: the relay
// (RelayConfig.Retention) calls it on the node that drains the outbox.
// A log that keeps events in a store implements it; one with a retention
// of its own (JetStream's MaxAge) need not. The sqlite and postgres logs
// pass eventstest.RunTrimmerTests.
type Trimmer interface {
	// TrimBefore deletes up to limit (at least 1) events, of any app,
	// whose Time (Unix ms) is before before, oldest Time first, and
	// returns how many it deleted: fewer than limit means none are left
	// to delete, so a caller repeats it until then. Each call is one
	// short write.
	//
	// It never deletes an app's newest event (the one at Last), however
	// old: the stores compute offsets from the newest event kept (the
	// SQLite log appends at its max(pos) + 1, so an app left without
	// events would start again at offset 1 and reuse offsets readers
	// hold; the PostgreSQL log takes positions from a counter, but its
	// Last is the newest kept position, so Last would answer 0 and a
	// reader's cursor would be "past the last event"). Keeping it makes
	// Append after a trim continue at Last + 1, and Read after a dropped
	// offset start at the oldest event kept (EventLog.Read).
	//
	// Event ids are deduplicated only against events kept: appending a
	// dropped event's id again appends it anew. The relay repeats a
	// batch only right after a crash, long before its events are old.
	//
	// Events are dropped by Time, not by offset; within an app times
	// follow offsets closely but not exactly (a message's time is when
	// it was accepted, a read's when it committed), so near the cutoff
	// a few events may be dropped before an older-offset one with a
	// slightly later time, which the next trim drops.
	TrimBefore(ctx context.Context, before int64, limit int) (int, error)
}
