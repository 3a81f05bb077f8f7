-- The event stream (internal/events). outbox: the transactional outbox;
-- each write transaction that stores messages or moves a read cursor adds
-- one row, which the relay turns into events and deletes. Its rowid is the
-- commit order (one writer). events: the embedded event log, one sequence
-- of positions per app, deduplicated by event id. webhooks and
-- webhook_dead: each app's webhook with its delivery cursor, and the
-- batches given up on.

-- +goose Up
CREATE TABLE outbox (
    id   INTEGER PRIMARY KEY,
    ts   INTEGER NOT NULL, -- commit time, Unix ms
    kind TEXT    NOT NULL, -- 'msgs': data [[app, conv, first, last], ...]; 'read': data [app, conv, user, seq]
    data TEXT    NOT NULL
);

CREATE TABLE events (
    app_id TEXT    NOT NULL,
    pos    INTEGER NOT NULL, -- the event's offset: 1, 2, 3, ... per app
    id     TEXT    NOT NULL,
    type   TEXT    NOT NULL,
    ts     INTEGER NOT NULL,
    data   TEXT    NOT NULL
);
CREATE UNIQUE INDEX events_by_pos ON events (app_id, pos);
CREATE UNIQUE INDEX events_by_id ON events (app_id, id);

CREATE TABLE webhooks (
    app_id     TEXT PRIMARY KEY,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    cursor     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE webhook_dead (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id   TEXT    NOT NULL,
    first    INTEGER NOT NULL,
    last     INTEGER NOT NULL,
    events   INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error    TEXT    NOT NULL,
    ts       INTEGER NOT NULL
);
CREATE INDEX webhook_dead_by_app ON webhook_dead (app_id, id);

-- +goose Down
DROP TABLE webhook_dead;
DROP TABLE webhooks;
DROP TABLE events;
DROP TABLE outbox;
