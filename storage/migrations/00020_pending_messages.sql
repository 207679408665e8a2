-- +goose Up
-- Only the messages still owed are in the index the deliveries read: the
-- delivered ones (most of them, kept for the delivery log) no longer lie
-- between them, and no other query can take this index for the primary
-- key's lookups (PostgreSQL did, with a cached plan: a walk over every
-- message of the subscription per message marked delivered).
DROP INDEX webhook_messages_pending;
CREATE INDEX webhook_messages_pending ON webhook_messages (tenant, subscription_id, stream, id) WHERE state = 'pending';

-- +goose Down
DROP INDEX webhook_messages_pending;
CREATE INDEX webhook_messages_pending ON webhook_messages (tenant, subscription_id, stream, state, id);
