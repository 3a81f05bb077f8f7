-- The catalog of uploaded files (internal/files). A file's content lives
-- in the blob store under its id; this row says whose it is. Ids are 128
-- random bits, unique across apps, but every lookup is by (app_id, id) so
-- that nothing crosses apps.

-- +goose Up
CREATE TABLE files (
    app_id     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    conv_id    TEXT    NOT NULL,
    uploader   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    mime       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL, -- lower-case hex
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE files;
