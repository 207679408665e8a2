-- +goose Up
-- The organiser's app: devices registered for an order's notifications
-- (FCM tokens), and which "tickets ready" notices each has had.
CREATE TABLE customer_devices (
    tenant       TEXT   NOT NULL,
    secret_token TEXT   NOT NULL,
    fcm_token    TEXT   NOT NULL,
    platform     TEXT   NOT NULL,
    locale       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, secret_token, fcm_token)
);
CREATE INDEX customer_devices_by_token ON customer_devices (tenant, fcm_token);

CREATE TABLE customer_notices (
    tenant       TEXT   NOT NULL,
    secret_token TEXT   NOT NULL,
    event        TEXT   NOT NULL,
    fcm_token    TEXT   NOT NULL,
    sent_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, secret_token, event, fcm_token)
);

-- API keys of the organisers' systems, stored as SHA-256 hashes.
CREATE TABLE api_keys (
    tenant     TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    key_hash   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys (key_hash);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE customer_notices;
DROP TABLE customer_devices;
