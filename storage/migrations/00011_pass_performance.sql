-- +goose Up
-- Reconciliation asks SecuTix for the tickets of each performance still
-- running: a pass knows its performance and when its event ends (Unix
-- milliseconds; the start when the end is unknown). Passes written
-- before this migration have 0 until their next version.
ALTER TABLE passes ADD COLUMN performance_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE passes ADD COLUMN event_end BIGINT NOT NULL DEFAULT 0;
CREATE INDEX passes_by_event_end ON passes (tenant, event_end);

-- +goose Down
DROP INDEX passes_by_event_end;
ALTER TABLE passes DROP COLUMN event_end;
ALTER TABLE passes DROP COLUMN performance_id;
