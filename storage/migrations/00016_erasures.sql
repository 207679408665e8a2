-- +goose Up
-- Erased holder data: an order ('file:<id>') or a holder
-- ('holder:<hash of the e-mail address>'). Passes made or synced later
-- leave the holder's data out.
CREATE TABLE holder_erasures (
    tenant    TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    erased_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject)
);
CREATE INDEX passes_by_holder ON passes (tenant, holder_key);

-- +goose Down
DROP INDEX passes_by_holder;
DROP TABLE holder_erasures;
