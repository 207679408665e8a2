-- +goose Up
-- SecuTix's quota, shared by every instance on one PostgreSQL database
-- (SecuTixQuota; on SQLite, one process keeps it in memory and these
-- tables stay empty). A key is an institution's service
-- ("MOSA/externalOrderService"). Times are the database's clock, so that
-- instances whose clocks disagree still count the same window.
--
-- One row per key: the row every call locks (FOR UPDATE) to count and
-- record itself, and the end of a pause after SecuTix answered 509/429.
CREATE TABLE secutix_quota (
    key          TEXT   NOT NULL PRIMARY KEY,
    paused_until BIGINT NOT NULL DEFAULT 0
);

-- The calls of the current window (older ones are deleted as calls come).
CREATE TABLE secutix_calls (
    key TEXT   NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX secutix_calls_by_key ON secutix_calls (key, at);

-- The calls waiting for room, so that one of lower priority does not go
-- before them. A waiter refreshes its row while it waits and deletes it
-- when it goes or gives up; the row of a waiter that died expires.
CREATE TABLE secutix_waiters (
    key        TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (key, id)
);

-- +goose Down
DROP TABLE secutix_waiters;
DROP TABLE secutix_calls;
DROP TABLE secutix_quota;
