-- The event log's retention (events.Trimmer), as in the SQLite store's
-- 00011_events_ts.sql: EventLog.TrimBefore deletes the oldest events by
-- ts, which this index finds without a scan.
--
-- Built CONCURRENTLY, outside a transaction: a deployment upgrading with
-- a large log goes on appending events while the index is built (a plain
-- CREATE INDEX would block every write to events until it is done). A
-- concurrent build that fails leaves an invalid index behind; the Up
-- drops such a leftover first, so running the migration again repairs it.

-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('events_by_ts') AND NOT indisvalid) THEN
        DROP INDEX events_by_ts;
    END IF;
END $$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_by_ts ON events (ts);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_by_ts;
