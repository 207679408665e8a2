-- +goose Up
-- Gate systems find a ticket by its barcode (filled by the application,
-- from the ticket, for passes stored before).
ALTER TABLE passes ADD COLUMN barcode TEXT NOT NULL DEFAULT '';
CREATE INDEX passes_by_barcode ON passes (tenant, barcode);

-- Scans of the organisers' gate systems, one row per scan id: a scan sent
-- again gets the answer it got the first time.
CREATE TABLE scans (
    tenant        TEXT   NOT NULL,
    scan_id       TEXT   NOT NULL,
    serial_number TEXT   NOT NULL,
    result        TEXT   NOT NULL,
    scanned_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant, scan_id)
);

-- +goose Down
DROP TABLE scans;
DROP INDEX passes_by_barcode;
ALTER TABLE passes DROP COLUMN barcode;
