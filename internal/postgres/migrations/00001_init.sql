-- Parley's production schema: the same tables as the embedded SQLite
-- store (internal/sqlite/migrations), in one migration because this store
-- starts with all of them. Times are Unix milliseconds except
-- revocations.revoked_before (Unix nanoseconds, so that "issued before t"
-- is exact). Every id is COLLATE "C": ids sort by their bytes, as in
-- SQLite (UserIDs and GroupMembers page by them, and the direct
-- conversations of a user are the range 'd:' <= conv_id < 'd;'), whatever
-- the database's default collation.
--
-- Change versions (decision record 0005): every version a reader pages by
-- comes from a row of counters, bumped in the transaction that writes it
-- and locked until that transaction commits, so that versions become
-- visible in the order they were handed out. The counters are per app
-- ('changes': members.ver and conversations.ver; 'profiles': users.ver)
-- and per contact list owner ('contacts/<user>': contacts.ver).

-- +goose Up
CREATE TABLE apps (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    name         text   NOT NULL,
    key_hash     bytea  NOT NULL,
    token_secret bytea  NOT NULL,
    created_at   bigint NOT NULL
);

CREATE TABLE users (
    app_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    name       text   NOT NULL,
    avatar     text   NOT NULL,
    role       text   NOT NULL,
    metadata   text   NOT NULL, -- JSON object or '' for none, compared as text
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    ver        bigint NOT NULL DEFAULT 0, -- profile version (counter 'profiles')
    PRIMARY KEY (app_id, id)
);

CREATE INDEX users_by_ver ON users (app_id, ver);

-- device '' is the user-wide revocation.
CREATE TABLE revocations (
    app_id         text COLLATE "C" NOT NULL,
    user_id        text COLLATE "C" NOT NULL,
    device         text COLLATE "C" NOT NULL,
    revoked_before bigint NOT NULL,
    PRIMARY KEY (app_id, user_id, device)
);

-- ver is a group conversation's change version: every message of the
-- group moves it, and group members' sync reads it (decision record
-- 0004). Other conversations leave it alone: their members' own rows
-- carry every change.
CREATE TABLE conversations (
    app_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    kind       text   NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    ver        bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    PRIMARY KEY (app_id, id)
);

-- role: owner, admin or member in a group; '' in direct conversations and
-- for former group members, whose left_seq is the seq of the system
-- message that recorded their leaving. pinned, muted and hide_seq are the
-- member's own settings (parley.ConvSettings): hide_seq is the
-- conversation's last seq when the member hid it, -1 when not hidden, so
-- that a new message shows it again without Append touching the row.
CREATE TABLE members (
    app_id      text COLLATE "C" NOT NULL,
    conv_id     text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    read_seq    bigint NOT NULL DEFAULT 0,
    ver         bigint NOT NULL,
    joined_at   bigint NOT NULL,
    role        text   NOT NULL DEFAULT '',
    muted_until bigint NOT NULL DEFAULT 0,
    left_seq    bigint NOT NULL DEFAULT 0,
    pinned      boolean NOT NULL DEFAULT false,
    muted       boolean NOT NULL DEFAULT false,
    hide_seq    bigint NOT NULL DEFAULT -1,
    PRIMARY KEY (app_id, conv_id, user_id),
    FOREIGN KEY (app_id, conv_id) REFERENCES conversations (app_id, id)
);

-- Changes and Conversations: a walk of the user's direct rows (and former
-- groups) by ver, and every current group membership.
CREATE INDEX members_direct_by_user_ver ON members (app_id, user_id, ver) WHERE role = '';
CREATE INDEX members_groups_by_user ON members (app_id, user_id) WHERE role <> '';
-- MutedBy (offline push): one index row per muting member.
CREATE INDEX members_muted ON members (app_id, conv_id, user_id) WHERE muted;

-- No foreign key to conversations: Append checks that the conversation
-- exists under its row lock, and a foreign key would repeat that lookup
-- for every message.
CREATE TABLE messages (
    app_id        text COLLATE "C" NOT NULL,
    conv_id       text COLLATE "C" NOT NULL,
    seq           bigint NOT NULL,
    id            text COLLATE "C" NOT NULL UNIQUE,
    sender        text COLLATE "C" NOT NULL,
    client_msg_id text COLLATE "C" NOT NULL, -- '' when the client wants no idempotency
    kind          text   NOT NULL,
    body          text   NOT NULL, -- the JSON as received, byte for byte
    ts            bigint NOT NULL,
    variants      text, -- JSON array of parley.Variant; NULL for (nearly every) message without
    PRIMARY KEY (app_id, conv_id, seq)
);

CREATE UNIQUE INDEX messages_by_client_id ON messages (app_id, sender, client_msg_id)
    WHERE client_msg_id <> '';

-- Message search. doc is the message's searchable text as analysed by
-- internal/textsearch in Go (IndexText), one lexeme per token at its
-- position, written with the message (and again by a revision); the
-- 'simple' text search configuration is never involved. id grows in the
-- order messages are inserted: it is the order of results and the page
-- cursor.
CREATE TABLE message_search (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id  text COLLATE "C" NOT NULL,
    conv_id text COLLATE "C" NOT NULL,
    seq     bigint   NOT NULL,
    doc     tsvector NOT NULL,
    UNIQUE (app_id, conv_id, seq)
);

CREATE INDEX message_search_doc ON message_search USING gin (doc);

CREATE TABLE groups (
    app_id      text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    name        text    NOT NULL,
    avatar      text    NOT NULL,
    notice      text    NOT NULL,
    ext         text    NOT NULL, -- JSON object or '' for none
    owner       text COLLATE "C" NOT NULL,
    mute_all    boolean NOT NULL DEFAULT false,
    max_members integer NOT NULL,
    members     integer NOT NULL, -- current members, kept by every change
    dissolved   boolean NOT NULL DEFAULT false,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    PRIMARY KEY (app_id, id)
);

-- An app's own settings, the JSON of parley.AppSettings (a field left out
-- follows the node's default). An app without a row has chosen nothing.
CREATE TABLE app_settings (
    app_id     text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES apps (id),
    settings   text   NOT NULL,
    updated_at bigint NOT NULL
);

-- One row per (owner, contact) ever added: a removal keeps the row.
CREATE TABLE contacts (
    app_id     text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    contact_id text COLLATE "C" NOT NULL,
    alias      text    NOT NULL DEFAULT '',
    removed    boolean NOT NULL DEFAULT false,
    created_at bigint  NOT NULL,
    ver        bigint  NOT NULL, -- counter 'contacts/<user_id>'
    PRIMARY KEY (app_id, user_id, contact_id)
);

CREATE INDEX contacts_by_user_ver ON contacts (app_id, user_id, ver);
CREATE INDEX contacts_by_contact ON contacts (app_id, contact_id) WHERE NOT removed;

-- The catalog of uploaded files (internal/files).
CREATE TABLE files (
    app_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    conv_id    text COLLATE "C" NOT NULL,
    uploader   text COLLATE "C" NOT NULL,
    name       text   NOT NULL,
    size       bigint NOT NULL,
    mime       text   NOT NULL,
    sha256     text   NOT NULL, -- lower-case hex
    created_at bigint NOT NULL,
    PRIMARY KEY (app_id, id)
);

-- The last version handed out by each counter (see the top of this file).
-- A row is created by the first transaction that needs it.
CREATE TABLE counters (
    app_id text COLLATE "C" NOT NULL,
    name   text COLLATE "C" NOT NULL,
    ver    bigint NOT NULL,
    PRIMARY KEY (app_id, name)
);

-- +goose Down
DROP TABLE counters;
DROP TABLE files;
DROP TABLE contacts;
DROP TABLE app_settings;
DROP TABLE groups;
DROP TABLE message_search;
DROP TABLE messages;
DROP TABLE members;
DROP TABLE conversations;
DROP TABLE revocations;
DROP TABLE users;
DROP TABLE apps;
