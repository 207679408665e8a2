-- +goose Up
-- An erasure is complete (Unix milliseconds) once every part of it is
-- done; until then the retention job runs it again. Erasures recorded
-- before this column are not known to be complete: the retention job
-- runs those of orders whose event is past the tenant's holderDataDays
-- once more, which finishes any that stopped half-way.
ALTER TABLE holder_erasures ADD COLUMN completed_at BIGINT;

-- +goose Down
ALTER TABLE holder_erasures DROP COLUMN completed_at;
