-- +goose Up
-- Google Wallet's save and delete callbacks, one row per nonce: Google may
-- deliver a callback more than once, and a replay must change nothing.
CREATE TABLE google_callbacks (
    tenant      TEXT   NOT NULL,
    nonce       TEXT   NOT NULL,
    object_id   TEXT   NOT NULL,
    class_id    TEXT   NOT NULL,
    event_type  TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, nonce)
);
CREATE INDEX google_callbacks_by_object ON google_callbacks (tenant, object_id, received_at);
-- A callback names the object; its pass (and order) is found through it.
CREATE INDEX google_objects_by_object ON google_objects (tenant, object_id);

-- +goose Down
DROP INDEX google_objects_by_object;
DROP TABLE google_callbacks;
