-- +goose Up
-- Who left a used-ticket hint: walletpass's gate (which announced the scan
-- when it was made) or SecuTix's (whose scan the sync announces).
ALTER TABLE ticket_hints ADD COLUMN source TEXT NOT NULL DEFAULT '';
-- Gate marks written as SCANNED by a build between migrations 23 and 25
-- are SecuTix's VALIDATED state, from the gate.
UPDATE ticket_hints SET state = 'VALIDATED', source = 'gate-scan' WHERE state = 'SCANNED';

-- +goose Down
ALTER TABLE ticket_hints DROP COLUMN source;
