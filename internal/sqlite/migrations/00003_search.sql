-- Message search. message_search is a contentless FTS5 index: it keeps the
-- tokens of every message's searchable text but not the text, which
-- messages already holds. The tokens come from parley_search_text(kind,
-- body), a Go function the sqlite package registers with the driver
-- (parley.SearchableText, then internal/textsearch: NFKC, case folding,
-- words, CJK bigrams), so a connection without it cannot store messages.
--
-- messages is WITHOUT ROWID and FTS5 points at rows by integer rowid, so
-- message_search_docs gives each message one: message_search's rowid is
-- message_search_docs.id. Ids grow in the order messages are stored; that
-- is the order of search results and their page cursor. The unique index
-- finds a message's id (the trigger below; deleting from the index later).
--
-- The tokenizer splits on spaces only (textsearch.FTS5Tokenize; a test
-- checks the two agree).

-- +goose Up
CREATE TABLE message_search_docs (
    id      INTEGER NOT NULL PRIMARY KEY,
    app_id  TEXT    NOT NULL,
    conv_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    UNIQUE (app_id, conv_id, seq)
);

CREATE VIRTUAL TABLE message_search USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* N* M* Co Cn'"
);

-- Messages are indexed in the transaction that stores them, when their
-- conversation's last_seq moves past them: storing messages always moves
-- it (seqs are gapless), and Append moves it once per conversation and
-- batch, after the inserts, in one statement for the whole batch. A
-- trigger on INSERT INTO messages would index the same rows, but it makes
-- every INSERT a statement transaction, and FTS5 writes its pending terms
-- to disk at each one: a segment per message, then merges.
-- BenchmarkAppendSearchIndex measured +29 us per English message that way
-- and +15 us this way (batches of 256, on a 2-core machine).
-- +goose StatementBegin
CREATE TRIGGER conversations_search AFTER UPDATE OF last_seq ON conversations
WHEN new.last_seq > old.last_seq BEGIN
    INSERT INTO message_search_docs (app_id, conv_id, seq)
        SELECT app_id, conv_id, seq FROM messages
        WHERE app_id = new.app_id AND conv_id = new.id AND seq > old.last_seq AND seq <= new.last_seq
        ORDER BY seq;
    INSERT INTO message_search (rowid, text)
        SELECT d.id, parley_search_text(m.kind, m.body) FROM message_search_docs d
        JOIN messages m ON m.app_id = d.app_id AND m.conv_id = d.conv_id AND m.seq = d.seq
        WHERE d.app_id = new.app_id AND d.conv_id = new.id AND d.seq > old.last_seq AND d.seq <= new.last_seq;
END;
-- +goose StatementEnd

-- The messages stored before this migration, oldest first.
INSERT INTO message_search_docs (app_id, conv_id, seq)
    SELECT app_id, conv_id, seq FROM messages ORDER BY ts, app_id, conv_id, seq;
INSERT INTO message_search (rowid, text)
    SELECT d.id, parley_search_text(m.kind, m.body) FROM message_search_docs d
    JOIN messages m ON m.app_id = d.app_id AND m.conv_id = d.conv_id AND m.seq = d.seq;

-- +goose Down
DROP TRIGGER conversations_search;
DROP TABLE message_search;
DROP TABLE message_search_docs;
