-- +goose Up
CREATE TABLE passes (
    tenant            TEXT    NOT NULL,
    serial_number     TEXT    NOT NULL,
    auth_token        TEXT    NOT NULL,
    pass_type_id      TEXT    NOT NULL,
    template          TEXT    NOT NULL,
    movement_id       BIGINT  NOT NULL,
    holder_generation INTEGER NOT NULL,
    file_id           BIGINT  NOT NULL,
    order_id          BIGINT  NOT NULL,
    ticket_id         BIGINT  NOT NULL,
    version           INTEGER NOT NULL,
    update_tag        BIGINT  NOT NULL,
    content_hash      TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    blob_key          TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    PRIMARY KEY (tenant, serial_number),
    UNIQUE (tenant, movement_id, holder_generation)
);
CREATE INDEX passes_by_file ON passes (tenant, file_id);

CREATE TABLE pass_versions (
    tenant        TEXT    NOT NULL,
    serial_number TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    content_hash  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    blob_key      TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant, serial_number, version)
);

-- +goose Down
DROP TABLE pass_versions;
DROP TABLE passes;
