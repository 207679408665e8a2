-- +goose Up
-- Who left a used-ticket hint: walletpass's gate (which announced the scan
-- when it was made) or SecuTix's (whose scan the sync announces).
ALTER TABLE ticket_hints ADD COLUMN source TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE ticket_hints DROP COLUMN source;
