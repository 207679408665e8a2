-- +goose Up
-- passes_by_movement has the columns, in the order, of the index that
-- UNIQUE (tenant, movement_id, holder_generation) already keeps: every new
-- pass wrote both, and any lookup either serves takes the unique one.
DROP INDEX passes_by_movement;

-- +goose Down
CREATE INDEX passes_by_movement ON passes (tenant, movement_id, holder_generation);
