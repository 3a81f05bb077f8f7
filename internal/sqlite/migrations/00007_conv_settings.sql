-- A member's own settings of a conversation (parley.ConvSettings).
--
-- pinned and muted are 0 or 1. hide_seq is the conversation's last seq
-- when the member hid it, -1 when not hidden: the conversation is hidden
-- while its last seq is at most hide_seq, so a new message shows it again
-- without Append touching the row. members_muted serves MutedBy (offline
-- push) at the cost of one index row per muting member.

-- +goose Up
ALTER TABLE members ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN hide_seq INTEGER NOT NULL DEFAULT -1;
CREATE INDEX members_muted ON members (app_id, conv_id, user_id) WHERE muted = 1;

-- +goose Down
DROP INDEX members_muted;
ALTER TABLE members DROP COLUMN hide_seq;
ALTER TABLE members DROP COLUMN muted;
ALTER TABLE members DROP COLUMN pinned;
