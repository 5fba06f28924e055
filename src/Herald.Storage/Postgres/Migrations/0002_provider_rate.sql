-- A provider account's rate limit in messages per second across the cluster; null means none.
ALTER TABLE provider_accounts ADD COLUMN rate_per_second double precision;
