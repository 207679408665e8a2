-- +goose Up
-- Every webhook as received, for the order timeline and for audits.
CREATE TABLE webhook_events (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant         TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    secret_token   TEXT    NOT NULL,
    order_id       BIGINT  NOT NULL,
    ticket_id      BIGINT  NOT NULL,
    movement_id    BIGINT  NOT NULL,
    state          TEXT    NOT NULL,
    last_update    BIGINT  NOT NULL,
    correlation_id TEXT    NOT NULL,
    received_at    BIGINT  NOT NULL
);
CREATE INDEX webhook_events_by_order ON webhook_events (tenant, secret_token);
CREATE INDEX webhook_events_by_time ON webhook_events (received_at);

-- Ticket states that only webhooks carry (a scan at the gate), newest
-- lastUpdate wins, so a late webhook can never roll a ticket back.
CREATE TABLE ticket_hints (
    tenant       TEXT   NOT NULL,
    secret_token TEXT   NOT NULL,
    ref          TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    last_update  BIGINT NOT NULL,
    PRIMARY KEY (tenant, secret_token, ref)
);

-- The durable task queue. At most one pending-or-running task per
-- (tenant, kind, dedup key): later events merge into it.
CREATE TABLE tasks (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    dedup_key       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    lease_token     TEXT    NOT NULL DEFAULT '',
    rerun           BOOLEAN NOT NULL DEFAULT false,
    merged          INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    correlation_ids TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    finished_at     BIGINT  NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tasks_one_active ON tasks (tenant, kind, dedup_key) WHERE state IN ('pending', 'running');
CREATE INDEX tasks_due ON tasks (state, next_attempt_at);
CREATE INDEX tasks_by_key ON tasks (tenant, kind, dedup_key, state, finished_at);

-- What happened to an order, for operators.
CREATE TABLE order_timeline (
    id             TEXT   NOT NULL PRIMARY KEY,
    tenant         TEXT   NOT NULL,
    secret_token   TEXT   NOT NULL,
    file_id        BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    correlation_id TEXT   NOT NULL,
    detail         TEXT   NOT NULL
);
CREATE INDEX order_timeline_by_secret ON order_timeline (tenant, secret_token, at);
CREATE INDEX order_timeline_by_file ON order_timeline (tenant, file_id, at);

-- A pass remembers the ticket it shows and whose it is.
ALTER TABLE passes ADD COLUMN secret_token TEXT NOT NULL DEFAULT '';
ALTER TABLE passes ADD COLUMN holder_key TEXT NOT NULL DEFAULT '';
ALTER TABLE passes ADD COLUMN ticket_json TEXT NOT NULL DEFAULT '';
CREATE INDEX passes_by_movement ON passes (tenant, movement_id, holder_generation);
CREATE INDEX passes_by_secret ON passes (tenant, secret_token);
CREATE INDEX passes_by_update ON passes (updated_at);

-- +goose Down
DROP INDEX passes_by_update;
DROP INDEX passes_by_secret;
DROP INDEX passes_by_movement;
ALTER TABLE passes DROP COLUMN ticket_json;
ALTER TABLE passes DROP COLUMN holder_key;
ALTER TABLE passes DROP COLUMN secret_token;
DROP TABLE order_timeline;
DROP TABLE tasks;
DROP TABLE ticket_hints;
DROP TABLE webhook_events;
