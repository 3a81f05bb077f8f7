-- Groups. A group is a conversation of kind 'group' (id 'g:' || group id)
-- plus a row here with its profile and state; its members are rows of
-- members with a role. Direct conversations keep role '' and are
-- unchanged.
--
-- Sync (decision record 0004): Append gives a group conversation's row a
-- new ver (conversations.ver) and the sender's members row one, never
-- every member's. A member's version of a group is the larger of its own
-- members.ver and conversations.ver; Changes reads the user's direct rows
-- through members_by_user_ver and their group rows through
-- members_groups_by_user (role <> ''), which costs one row per group the
-- user is in. A former member's row keeps left_seq (the message that
-- recorded the leaving) and role '' so that it drops out of the group
-- index and, like a direct row, changes only when its own ver moves.

-- +goose Up
CREATE TABLE groups (
    app_id      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    avatar      TEXT    NOT NULL,
    notice      TEXT    NOT NULL,
    ext         TEXT    NOT NULL, -- JSON object or '' for none
    owner       TEXT    NOT NULL,
    mute_all    INTEGER NOT NULL DEFAULT 0,
    max_members INTEGER NOT NULL,
    members     INTEGER NOT NULL, -- current members, kept by every change
    dissolved   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, id)
) WITHOUT ROWID;

-- owner, admin or member in a group; '' in direct conversations and for
-- former group members.
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT '';
-- Unix ms; the member may not send before it.
ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
-- 0 for members; for former group members the seq of the system message
-- that recorded their leaving or removal.
ALTER TABLE members ADD COLUMN left_seq INTEGER NOT NULL DEFAULT 0;
-- The conversation's change version: every message moves it. Only
-- group members read it (direct members' rows move with every message).
ALTER TABLE conversations ADD COLUMN ver INTEGER NOT NULL DEFAULT 0;

-- A user's current group memberships, for Changes and Conversations.
CREATE INDEX members_groups_by_user ON members (app_id, user_id) WHERE role <> '';

-- +goose Down
DROP INDEX members_groups_by_user;
ALTER TABLE conversations DROP COLUMN ver;
ALTER TABLE members DROP COLUMN left_seq;
ALTER TABLE members DROP COLUMN muted_until;
ALTER TABLE members DROP COLUMN role;
DROP TABLE groups;
