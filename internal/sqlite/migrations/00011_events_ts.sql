-- The event log's retention (events.Trimmer): EventLog.TrimBefore deletes
-- the oldest events by ts, which this index finds without a scan.

-- +goose Up
CREATE INDEX events_by_ts ON events (ts);

-- +goose Down
DROP INDEX events_by_ts;
