-- Contact lists and profile versions (parley.ContactStore).
--
-- contacts holds one row per (owner, contact) ever added: a removal keeps
-- the row with removed = 1 so that the owner's devices learn it on sync.
-- ver is the owner's contact version: max over the owner's rows + 1, so it
-- grows per owner in commit order (one writer).
--
-- users.ver is the profile version: max over the app's users + 1, taken
-- when a profile is created or changes. contacts_by_contact finds who has
-- a user as a contact (presence and profile fan-out).

-- +goose Up
CREATE TABLE contacts (
    app_id     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    contact_id TEXT    NOT NULL,
    alias      TEXT    NOT NULL DEFAULT '',
    removed    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    ver        INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, contact_id)
) WITHOUT ROWID;

CREATE INDEX contacts_by_user_ver ON contacts (app_id, user_id, ver);
CREATE INDEX contacts_by_contact ON contacts (app_id, contact_id) WHERE removed = 0;

ALTER TABLE users ADD COLUMN ver INTEGER NOT NULL DEFAULT 0;
UPDATE users SET ver = 1; -- existing profiles: older than any change to come
CREATE INDEX users_by_ver ON users (app_id, ver);

-- +goose Down
DROP INDEX users_by_ver;
ALTER TABLE users DROP COLUMN ver;
DROP TABLE contacts;
