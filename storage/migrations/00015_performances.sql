-- +goose Up
-- Event-wide work. An organiser's notices to the holders of a
-- performance (the newest is shown on its passes), and the catalogue
-- details each performance's passes were last rewritten with, to tell
-- when the catalogue changed.
CREATE TABLE performance_notices (
    tenant         TEXT   NOT NULL,
    performance_id BIGINT NOT NULL,
    notice_id      TEXT   NOT NULL,
    header         TEXT   NOT NULL,
    body           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant, performance_id, notice_id)
);
CREATE INDEX performance_notices_newest ON performance_notices (tenant, performance_id, created_at);

CREATE TABLE performances (
    tenant         TEXT   NOT NULL,
    performance_id BIGINT NOT NULL,
    fingerprint    TEXT   NOT NULL,
    synced_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, performance_id)
);

-- A performance's passes are read in serial order, a page at a time.
DROP INDEX passes_by_performance;
CREATE INDEX passes_by_performance ON passes (tenant, performance_id, serial_number);

-- Google Wallet by class: what a class showed (start, venue), its
-- notifying messages of the last day and the newest notice it carries;
-- an object's content hash, so that a class-wide change patches only the
-- objects whose own content changed.
ALTER TABLE google_classes ADD COLUMN shown TEXT NOT NULL DEFAULT '';
ALTER TABLE google_classes ADD COLUMN notified TEXT NOT NULL DEFAULT '[]';
ALTER TABLE google_classes ADD COLUMN notice_id TEXT NOT NULL DEFAULT '';
ALTER TABLE google_objects ADD COLUMN object_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX google_objects_by_class ON google_objects (tenant, class_id);

-- +goose Down
DROP INDEX google_objects_by_class;
ALTER TABLE google_objects DROP COLUMN object_hash;
ALTER TABLE google_classes DROP COLUMN notice_id;
ALTER TABLE google_classes DROP COLUMN notified;
ALTER TABLE google_classes DROP COLUMN shown;
DROP INDEX passes_by_performance;
CREATE INDEX passes_by_performance ON passes (tenant, performance_id);
DROP TABLE performances;
DROP INDEX performance_notices_newest;
DROP TABLE performance_notices;
