-- +goose Up
-- Console sessions are signed cookies; these revoke them: one session (its
-- id, signed out) until it would have expired, or every session of an
-- operator issued before a moment (walletpass console signout).
CREATE TABLE console_revocations (
    kind  TEXT   NOT NULL,
    ref   TEXT   NOT NULL,
    at    BIGINT NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (kind, ref)
);

-- +goose Down
DROP TABLE console_revocations;
