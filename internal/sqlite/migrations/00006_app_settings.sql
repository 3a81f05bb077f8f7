-- Per-app feature switches (parley.AppSettings) and message variants
-- (parley.Variant).
--
-- app_settings holds an app's own settings as the JSON of
-- parley.AppSettings: a field left out follows the node's default, so new
-- settings need no migration. An app without a row has chosen nothing.
--
-- messages.variants is the JSON array of a message's variants, NULL for
-- the (nearly all) messages without any: stored once with the message,
-- rendered per device when read or pushed.

-- +goose Up
CREATE TABLE app_settings (
    app_id     TEXT    NOT NULL PRIMARY KEY REFERENCES apps (id),
    settings   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

ALTER TABLE messages ADD COLUMN variants TEXT;

-- +goose Down
ALTER TABLE messages DROP COLUMN variants;
DROP TABLE app_settings;
