-- +goose Up
-- A lease lends a name to one holder at a time across the instances that
-- share the database (pass.Leases): expires_at in Unix milliseconds. A
-- released lease is deleted; one its holder never released is taken over
-- once it has expired.
CREATE TABLE leases (
    name       TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
