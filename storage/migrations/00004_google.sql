-- +goose Up
-- Google Wallet: what Google shows of each pass's object, and the classes
-- as last sent. A pass has a row only once its object was asked for (save
-- link) or inserted on payment; from then on every new pass version
-- queues a sync of it.
CREATE TABLE google_objects (
    tenant        TEXT    NOT NULL,
    serial_number TEXT    NOT NULL,
    object_id     TEXT    NOT NULL,
    class_id      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    shown         TEXT    NOT NULL,
    notified      TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant, serial_number)
);
CREATE INDEX google_objects_expiring ON google_objects (state, expires_at);

CREATE TABLE google_classes (
    tenant       TEXT   NOT NULL,
    class_id     TEXT   NOT NULL,
    content_hash TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, class_id)
);

-- +goose Down
DROP TABLE google_classes;
DROP TABLE google_objects;
