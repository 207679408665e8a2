-- +goose Up
-- The organisers' webhook subscriptions (Standard Webhooks), and the
-- messages owed to each: delivered in order per stream (a pass), retried
-- until delivered.
CREATE TABLE webhook_subscriptions (
    tenant      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    endpoint    TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    secret      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE webhook_messages (
    tenant          TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    stream          TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    delivered_at    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, subscription_id, id)
);
CREATE INDEX webhook_messages_pending ON webhook_messages (tenant, subscription_id, stream, state, id);

-- +goose Down
DROP TABLE webhook_messages;
DROP TABLE webhook_subscriptions;
