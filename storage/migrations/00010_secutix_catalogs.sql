-- +goose Up
-- The SecuTix catalogue of each institution, shared by the instances:
-- SecuTix lets an institution read it once per ten minutes, so the one
-- instance that may read it (the claim: attempted_at) stores it for all.
CREATE TABLE secutix_catalogs (
    key          TEXT   NOT NULL PRIMARY KEY,
    body         TEXT   NOT NULL,
    stamp        TEXT   NOT NULL,
    fetched_at   BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE secutix_catalogs;
