-- +goose Up
-- Apple Wallet devices and the passes they registered for updates.
CREATE TABLE devices (
    tenant            TEXT   NOT NULL,
    device_library_id TEXT   NOT NULL,
    push_token        TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant, device_library_id)
);
CREATE INDEX devices_by_token ON devices (tenant, push_token);

CREATE TABLE registrations (
    tenant            TEXT   NOT NULL,
    device_library_id TEXT   NOT NULL,
    pass_type_id      TEXT   NOT NULL,
    serial_number     TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant, device_library_id, pass_type_id, serial_number)
);
CREATE INDEX registrations_by_pass ON registrations (tenant, pass_type_id, serial_number);

-- +goose Down
DROP TABLE registrations;
DROP TABLE devices;
