-- +goose Up
-- A subscription whose endpoint asked to be left alone (429 or 503 with
-- Retry-After) or was found down gets no request before paused_until
-- (Unix milliseconds; 0 for none), whatever new events arrive meanwhile.
ALTER TABLE webhook_subscriptions ADD COLUMN paused_until BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_subscriptions DROP COLUMN paused_until;
