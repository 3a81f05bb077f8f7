-- Customer-service consultations (internal/consult). A consultation's
-- thread is a conversation of kind 'consult' (id 'c:<shop>:<user>') whose
-- members rows are the user and the agents serving it now, kept by
-- consult's Open and Transition in the transactions that change them.
-- Times are Unix milliseconds of the consult service's clock.

-- +goose Up
CREATE TABLE consult_shops (
    app_id     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    settings   TEXT    NOT NULL, -- the consult.Shop as JSON
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

CREATE TABLE consult_queues (
    app_id   TEXT NOT NULL,
    id       TEXT NOT NULL,
    shop     TEXT NOT NULL,
    strategy TEXT NOT NULL,
    team     TEXT NOT NULL,
    hook     TEXT NOT NULL,
    cursor   TEXT NOT NULL DEFAULT '', -- the even strategy's last agent
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

-- load is the number of open consultations assigned to the agent; the
-- conditional UPDATE that assigns checks it against max_load.
CREATE TABLE consult_agents (
    app_id     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    shop       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    teams      TEXT    NOT NULL, -- JSON array of team ids
    weight     INTEGER NOT NULL,
    max_load   INTEGER NOT NULL,
    supervisor INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    load       INTEGER NOT NULL DEFAULT 0 CHECK (load >= 0),
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;
CREATE INDEX consult_agents_by_shop ON consult_agents (app_id, shop);

CREATE TABLE consultations (
    app_id         TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    shop           TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    conv           TEXT    NOT NULL,
    queue          TEXT    NOT NULL,
    team           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    agent          TEXT    NOT NULL, -- '' none; resolved: the last agent who served
    entry          TEXT    NOT NULL,
    context        TEXT    NOT NULL, -- JSON object or ''
    opened_at      INTEGER NOT NULL,
    pending_at     INTEGER NOT NULL,
    assigned_at    INTEGER NOT NULL,
    first_reply_at INTEGER NOT NULL,
    resolved_at    INTEGER NOT NULL,
    resolved_by    TEXT    NOT NULL,
    resolve_due    INTEGER NOT NULL,
    rating         INTEGER NOT NULL,
    comment        TEXT    NOT NULL,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;
-- At most one open consultation per thread, whatever the concurrency.
CREATE UNIQUE INDEX consultations_open_by_thread ON consultations (app_id, conv) WHERE state <> 'resolved';
CREATE INDEX consultations_by_thread ON consultations (app_id, conv, opened_at);
CREATE INDEX consultations_waiting ON consultations (app_id, queue, pending_at, id) WHERE state = 'pending';
CREATE INDEX consultations_due ON consultations (resolve_due) WHERE resolve_due > 0;
CREATE INDEX consultations_by_user ON consultations (app_id, user_id, opened_at);
CREATE INDEX consultations_by_agent ON consultations (app_id, agent, state);

-- The event log metrics are computed from (consult.EventKind).
CREATE TABLE consult_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     TEXT    NOT NULL,
    consult_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    shop       TEXT    NOT NULL,
    queue      TEXT    NOT NULL,
    team       TEXT    NOT NULL,
    agent      TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    load       INTEGER NOT NULL,
    value      INTEGER NOT NULL,
    note       TEXT    NOT NULL
);
CREATE INDEX consult_events_by_time ON consult_events (app_id, at);
CREATE INDEX consult_events_loads ON consult_events (app_id, agent, at) WHERE kind IN ('assigned', 'released');

-- +goose Down
DROP TABLE consult_events;
DROP TABLE consultations;
DROP TABLE consult_agents;
DROP TABLE consult_queues;
DROP TABLE consult_shops;
