-- +goose Up
-- The update tag of the pass version a registration's device was last
-- pushed for, recorded when part of a push round must be retried: the
-- retry then skips the devices already reached.
ALTER TABLE registrations ADD COLUMN pushed_tag BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE registrations DROP COLUMN pushed_tag;
