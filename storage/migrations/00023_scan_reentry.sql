-- +goose Up
-- A re-entry tenant's scan of a ticket scanned before lets the holder in
-- again: the answer a scan sent again repeats says so too.
ALTER TABLE scans ADD COLUMN re_entry BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE scans DROP COLUMN re_entry;
