-- Customer-service consultations (internal/consult), as in the SQLite
-- store's 00008_consult.sql. A consultation's thread is a conversation of
-- kind 'consult' (id 'c:<shop>:<user>') whose members rows are the user
-- and the agents serving it now, kept by Open and Transition in the
-- transactions that change them. Times are Unix milliseconds of the
-- consult service's clock.
--
-- Concurrency (any number of nodes): Open and Transition lock the
-- thread's conversation row first (as Append does), so a thread's
-- consultations change one at a time; the agents whose load a transition
-- changes are locked next, in id order; the change counter comes last.
-- The unique index keeps one open consultation per thread regardless.

-- +goose Up
CREATE TABLE consult_shops (
    app_id   text COLLATE "C" NOT NULL,
    id       text COLLATE "C" NOT NULL,
    settings text NOT NULL, -- the parley.Shop as JSON
    PRIMARY KEY (app_id, id)
);

CREATE TABLE consult_queues (
    app_id   text COLLATE "C" NOT NULL,
    id       text COLLATE "C" NOT NULL,
    shop     text COLLATE "C" NOT NULL,
    strategy text NOT NULL,
    team     text NOT NULL,
    hook     text NOT NULL,
    cursor   text NOT NULL DEFAULT '', -- the even strategy's last agent
    PRIMARY KEY (app_id, id)
);

-- load is the number of open consultations assigned to the agent; the
-- conditional UPDATE that assigns checks it against max_load.
CREATE TABLE consult_agents (
    app_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    shop       text COLLATE "C" NOT NULL,
    name       text    NOT NULL,
    teams      text    NOT NULL, -- JSON array of team ids
    weight     integer NOT NULL,
    max_load   integer NOT NULL,
    supervisor boolean NOT NULL,
    status     text    NOT NULL,
    load       integer NOT NULL DEFAULT 0 CHECK (load >= 0),
    PRIMARY KEY (app_id, id)
);
CREATE INDEX consult_agents_by_shop ON consult_agents (app_id, shop);

CREATE TABLE consultations (
    app_id         text COLLATE "C" NOT NULL,
    id             text COLLATE "C" NOT NULL,
    shop           text COLLATE "C" NOT NULL,
    user_id        text COLLATE "C" NOT NULL,
    conv           text COLLATE "C" NOT NULL,
    queue          text COLLATE "C" NOT NULL,
    team           text    NOT NULL,
    state          text    NOT NULL,
    agent          text COLLATE "C" NOT NULL, -- '' none; resolved: the last agent who served
    entry          text    NOT NULL,
    context        text    NOT NULL, -- JSON object or ''
    opened_at      bigint  NOT NULL,
    pending_at     bigint  NOT NULL,
    assigned_at    bigint  NOT NULL,
    first_reply_at bigint  NOT NULL,
    resolved_at    bigint  NOT NULL,
    resolved_by    text    NOT NULL,
    resolve_due    bigint  NOT NULL,
    rating         integer NOT NULL,
    comment        text    NOT NULL,
    PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX consultations_open_by_thread ON consultations (app_id, conv) WHERE state <> 'resolved';
CREATE INDEX consultations_by_thread ON consultations (app_id, conv, opened_at);
CREATE INDEX consultations_waiting ON consultations (app_id, queue, pending_at, id) WHERE state = 'pending';
CREATE INDEX consultations_due ON consultations (resolve_due) WHERE resolve_due > 0;
CREATE INDEX consultations_by_user ON consultations (app_id, user_id, opened_at);
CREATE INDEX consultations_by_agent ON consultations (app_id, agent, state);

-- The event log metrics are computed from (consult.EventKind). Ids grow
-- in insertion order; per agent, in commit order too (an agent's events
-- are written under the lock of its row), which AgentLoadsAt relies on.
CREATE TABLE consult_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id     text COLLATE "C" NOT NULL,
    consult_id text COLLATE "C" NOT NULL,
    kind       text    NOT NULL,
    at         bigint  NOT NULL,
    shop       text    NOT NULL,
    queue      text    NOT NULL,
    team       text    NOT NULL,
    agent      text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    load       integer NOT NULL,
    value      integer NOT NULL,
    note       text    NOT NULL
);
CREATE INDEX consult_events_by_time ON consult_events (app_id, at);
CREATE INDEX consult_events_loads ON consult_events (app_id, agent, at) WHERE kind IN ('assigned', 'released');

-- +goose Down
DROP TABLE consult_events;
DROP TABLE consultations;
DROP TABLE consult_agents;
DROP TABLE consult_queues;
DROP TABLE consult_shops;
