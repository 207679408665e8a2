-- +goose Up
-- What an API key may do, as OAuth scopes (space-separated): the keys made
-- before had one use, getTicketsUrl.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'tickets:read';
-- The passes API lists a performance's passes.
CREATE INDEX passes_by_performance ON passes (tenant, performance_id);

-- +goose Down
DROP INDEX passes_by_performance;
ALTER TABLE api_keys DROP COLUMN scopes;
