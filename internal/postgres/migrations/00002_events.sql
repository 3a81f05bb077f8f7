-- The event stream (internal/events) and offline pushes (internal/notify).
--
-- outbox is the transactional outbox: Append, CreateGroup, ChangeGroup
-- and MarkRead add one row in the transaction that makes the change, and
-- the relay turns rows into events and deletes them. Ids come from an
-- identity column, so across conversations they are not commit order (a
-- transaction can take id 6 and commit after 7). Per conversation they
-- are: writes to one conversation take its row lock before they insert
-- their row, so a later write's id is taken after the earlier write
-- committed; likewise per member for read cursors. That keeps each
-- conversation's events in seq order.
--
-- events is the event log: each app's events at positions 1, 2, 3, ...
-- (counter 'events' of the app, locked by the appending transaction, so
-- positions are gapless and become visible in order), deduplicated by id
-- for ever. webhooks and webhook_dead: each app's webhook with its
-- delivery cursor, and the batches given up on.
--
-- offline_pushes: one row per (app, user, message) ever notified, pruned
-- by ts after the retention.

-- +goose Up
CREATE TABLE outbox (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts   bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    msgs text, -- JSON of []events.MsgRange, or NULL
    read text  -- JSON of events.ReadCursor, or NULL
);

CREATE TABLE events (
    app_id text COLLATE "C" NOT NULL,
    pos    bigint NOT NULL,
    id     text COLLATE "C" NOT NULL,
    type   text   NOT NULL,
    ts     bigint NOT NULL,
    data   text   NOT NULL,
    PRIMARY KEY (app_id, pos),
    UNIQUE (app_id, id)
);

CREATE TABLE webhooks (
    app_id     text COLLATE "C" NOT NULL PRIMARY KEY,
    url        text   NOT NULL,
    secret     text   NOT NULL,
    cursor     bigint NOT NULL,
    version    bigint NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE webhook_dead (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id   text COLLATE "C" NOT NULL,
    first    bigint  NOT NULL,
    last     bigint  NOT NULL,
    events   integer NOT NULL,
    attempts integer NOT NULL,
    error    text    NOT NULL,
    ts       bigint  NOT NULL
);
CREATE INDEX webhook_dead_by_app ON webhook_dead (app_id, id);

CREATE TABLE offline_pushes (
    app_id  text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    msg_id  text COLLATE "C" NOT NULL,
    conv_id text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL,
    sender  text   NOT NULL,
    kind    text   NOT NULL,
    title   text   NOT NULL,
    preview text   NOT NULL,
    ts      bigint NOT NULL,
    PRIMARY KEY (app_id, user_id, msg_id)
);
CREATE INDEX offline_pushes_by_ts ON offline_pushes (ts);

-- +goose Down
DROP TABLE offline_pushes;
DROP TABLE webhook_dead;
DROP TABLE webhooks;
DROP TABLE events;
DROP TABLE outbox;
