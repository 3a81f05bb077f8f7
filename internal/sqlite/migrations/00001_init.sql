-- Parley's embedded schema. Times are Unix milliseconds except
-- revocations.revoked_before, which is Unix nanoseconds so that "issued
-- before t" is exact. Tables keyed by composite text keys and read by key
-- range are WITHOUT ROWID so the primary key is the clustered index.

-- +goose Up
CREATE TABLE apps (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL,
    token_secret BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE users (
    app_id     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    avatar     TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    metadata   TEXT    NOT NULL, -- JSON object or '' for none
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

-- device '' is the user-wide revocation.
CREATE TABLE revocations (
    app_id         TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    device         TEXT    NOT NULL,
    revoked_before INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, device)
) WITHOUT ROWID;

CREATE TABLE conversations (
    app_id     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

-- ver is the member's change version, taken from change_ver below.
CREATE TABLE members (
    app_id    TEXT    NOT NULL,
    conv_id   TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    read_seq  INTEGER NOT NULL DEFAULT 0,
    ver       INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, conv_id, user_id),
    FOREIGN KEY (app_id, conv_id) REFERENCES conversations (app_id, id)
) WITHOUT ROWID;

-- Serves sync (Changes) and the conversation list, in both directions.
CREATE INDEX members_by_user_ver ON members (app_id, user_id, ver);

-- No foreign key to conversations: Append checks that the conversation
-- exists under the write lock, and a foreign key would repeat that lookup
-- for every message on the hot path.
CREATE TABLE messages (
    app_id        TEXT    NOT NULL,
    conv_id       TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    id            TEXT    NOT NULL UNIQUE,
    sender        TEXT    NOT NULL,
    client_msg_id TEXT    NOT NULL, -- '' when the client wants no idempotency
    kind          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    ts            INTEGER NOT NULL,
    PRIMARY KEY (app_id, conv_id, seq)
) WITHOUT ROWID;

CREATE UNIQUE INDEX messages_by_client_id ON messages (app_id, sender, client_msg_id)
    WHERE client_msg_id <> '';

-- One row: the last change version handed out. A single writer reads it
-- once per transaction, so versions grow in commit order.
CREATE TABLE change_ver (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    ver INTEGER NOT NULL
);
INSERT INTO change_ver (id, ver) VALUES (1, 0);

-- +goose Down
DROP TABLE change_ver;
DROP TABLE messages;
DROP TABLE members;
DROP TABLE conversations;
DROP TABLE revocations;
DROP TABLE users;
DROP TABLE apps;
