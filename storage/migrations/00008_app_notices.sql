-- +goose Up
-- One name per concept: the organiser's app has installations and gets
-- app notices (formerly "customer devices" and "notify-customer").
ALTER TABLE customer_devices RENAME TO app_installations;
ALTER TABLE customer_notices RENAME TO app_notices_sent;
UPDATE tasks SET kind = 'app-notice' WHERE kind = 'notify-customer';

-- +goose Down
UPDATE tasks SET kind = 'notify-customer' WHERE kind = 'app-notice';
ALTER TABLE app_notices_sent RENAME TO customer_notices;
ALTER TABLE app_installations RENAME TO customer_devices;
