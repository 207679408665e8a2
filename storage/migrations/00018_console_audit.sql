-- +goose Up
-- What operators did in the console.
CREATE TABLE console_audit (
    id     TEXT   NOT NULL PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    tenant TEXT   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL,
    detail TEXT   NOT NULL
);
CREATE INDEX console_audit_by_at ON console_audit (at);
CREATE INDEX console_audit_by_tenant ON console_audit (tenant, at);

-- +goose Down
DROP TABLE console_audit;
