-- +goose Up
-- A subscription's stream (a pass's messages) whose first pending message
-- failed waits until retry_at, alone: the subscription's other streams go
-- on. A row lives while its stream is failing.
CREATE TABLE webhook_stream_waits (
    tenant          TEXT   NOT NULL,
    subscription_id TEXT   NOT NULL,
    stream          TEXT   NOT NULL,
    retry_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant, subscription_id, stream)
);

-- +goose Down
DROP TABLE webhook_stream_waits;
