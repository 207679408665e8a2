-- +goose Up
-- What the console shows of a pass beyond its versions, and counts for
-- the usage page.
--
-- Each push sent for a pass and what the push service answered (one row
-- per device and pass; an event-wide change's push to a device that holds
-- several of the performance's passes gets a row for each). Purged with
-- the timeline.
CREATE TABLE push_log (
    tenant            TEXT   NOT NULL,
    serial_number     TEXT   NOT NULL,
    device_library_id TEXT   NOT NULL,
    at                BIGINT NOT NULL,
    outcome           TEXT   NOT NULL,
    reason            TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX push_log_by_pass ON push_log (tenant, serial_number, at);
CREATE INDEX push_log_by_at ON push_log (at);

-- Apple Wallet registrations made and removed (a device that removed the
-- pass, or one APNs said is gone): the registrations table keeps only the
-- current ones. Google Wallet's saves and deletes are google_callbacks.
CREATE TABLE wallet_events (
    tenant        TEXT   NOT NULL,
    serial_number TEXT   NOT NULL,
    wallet        TEXT   NOT NULL,
    event         TEXT   NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX wallet_events_by_pass ON wallet_events (tenant, serial_number, at);

-- +goose Down
DROP TABLE wallet_events;
DROP TABLE push_log;
