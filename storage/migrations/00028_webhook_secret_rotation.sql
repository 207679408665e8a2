-- +goose Up
-- A subscription's signing secret may be rotated: the previous one signs
-- beside the new one until previous_until (Standard Webhooks' several
-- signatures), so the receiver can switch without losing a delivery.
ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_subscriptions ADD COLUMN previous_until BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_subscriptions DROP COLUMN previous_until;
ALTER TABLE webhook_subscriptions DROP COLUMN previous_secret;
