-- +goose Up
-- A version's stored form (pass.json, manifest.json and signature, about
-- 7 KB), written with its row; versions stored before keep their file
-- (blob_key) and no content.
ALTER TABLE pass_versions ADD COLUMN content BYTEA;

-- +goose Down
ALTER TABLE pass_versions DROP COLUMN content;
