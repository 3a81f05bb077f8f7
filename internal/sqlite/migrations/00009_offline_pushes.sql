-- Offline-push notifications (internal/notify): one row per (app, user,
-- message) ever notified, which makes a repeat recognisable and keeps the
-- record for the event stream. Pruned by ts after the retention.

-- +goose Up
CREATE TABLE offline_pushes (
    app_id  TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    msg_id  TEXT    NOT NULL,
    conv_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    sender  TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    title   TEXT    NOT NULL,
    preview TEXT    NOT NULL,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX offline_pushes_by_ts ON offline_pushes (ts);

-- +goose Down
DROP TABLE offline_pushes;
