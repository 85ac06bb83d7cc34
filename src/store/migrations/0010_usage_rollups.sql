-- 0010_usage_rollups: persistent usage history, the ground for reports and periodic budgets.
-- Per hour × key × account × model × endpoint: requests, successes, failures by class, images,
-- tokens, upstream bytes, latency sum and a fixed-bucket latency histogram (one column per upper
-- bound in ms, `latency_gt_300000` for slower requests; p50/p95 are read from it). The data plane adds
-- to these rows in the same transaction as it adds to `key_usage` (one multi-row upsert of atomic
-- increments per flush), so replaying a killed process's usage journal restores them exactly like the
-- counters, and several processes never lose an increment. `account_id` is '' when no account
-- answered (a rejection, exhausted accounts). A sweeper rolls hourly rows older than
-- USAGE_HOURLY_RETENTION_DAYS into `usage_daily` (same columns, `day_start` at UTC midnight) and
-- deletes daily rows older than USAGE_DAILY_RETENTION_DAYS. No foreign key to api_keys: a deleted
-- key's history is still billable. Counts and ids only, never a prompt or an image.
-- Runs on Postgres 15+ and PGlite.

CREATE TABLE usage_hourly (
  hour_start             BIGINT NOT NULL CHECK (hour_start >= 0 AND hour_start % 3600000 = 0),
  key_id                 TEXT NOT NULL CHECK (key_id <> ''),
  account_id             TEXT NOT NULL,
  model                  TEXT NOT NULL CHECK (length(model) <= 64),
  endpoint               TEXT NOT NULL CHECK (endpoint <> ''),
  requests               BIGINT NOT NULL DEFAULT 0 CHECK (requests >= 0),
  successes              BIGINT NOT NULL DEFAULT 0 CHECK (successes >= 0),
  failures_rate_limited  BIGINT NOT NULL DEFAULT 0 CHECK (failures_rate_limited >= 0),
  failures_client        BIGINT NOT NULL DEFAULT 0 CHECK (failures_client >= 0),
  failures_upstream      BIGINT NOT NULL DEFAULT 0 CHECK (failures_upstream >= 0),
  failures_aborted       BIGINT NOT NULL DEFAULT 0 CHECK (failures_aborted >= 0),
  images                 BIGINT NOT NULL DEFAULT 0 CHECK (images >= 0),
  input_tokens           BIGINT NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens          BIGINT NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  total_tokens           BIGINT NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
  usage_missing          BIGINT NOT NULL DEFAULT 0 CHECK (usage_missing >= 0),
  upstream_bytes         BIGINT NOT NULL DEFAULT 0 CHECK (upstream_bytes >= 0),
  latency_ms_sum         BIGINT NOT NULL DEFAULT 0 CHECK (latency_ms_sum >= 0),
  latency_le_100         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_100 >= 0),
  latency_le_250         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_250 >= 0),
  latency_le_500         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_500 >= 0),
  latency_le_1000        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_1000 >= 0),
  latency_le_2500        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_2500 >= 0),
  latency_le_5000        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_5000 >= 0),
  latency_le_10000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_10000 >= 0),
  latency_le_20000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_20000 >= 0),
  latency_le_30000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_30000 >= 0),
  latency_le_45000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_45000 >= 0),
  latency_le_60000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_60000 >= 0),
  latency_le_90000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_90000 >= 0),
  latency_le_120000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_120000 >= 0),
  latency_le_180000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_180000 >= 0),
  latency_le_300000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_300000 >= 0),
  latency_gt_300000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_gt_300000 >= 0),
  CHECK (successes + failures_rate_limited + failures_client + failures_upstream + failures_aborted = requests),
  CHECK (latency_le_100 + latency_le_250 + latency_le_500 + latency_le_1000 + latency_le_2500 + latency_le_5000 + latency_le_10000 + latency_le_20000 + latency_le_30000 + latency_le_45000 + latency_le_60000 + latency_le_90000 + latency_le_120000 + latency_le_180000 + latency_le_300000 + latency_gt_300000 = requests),
  PRIMARY KEY (hour_start, key_id, account_id, model, endpoint)
);

CREATE TABLE usage_daily (
  day_start              BIGINT NOT NULL CHECK (day_start >= 0 AND day_start % 86400000 = 0),
  key_id                 TEXT NOT NULL CHECK (key_id <> ''),
  account_id             TEXT NOT NULL,
  model                  TEXT NOT NULL CHECK (length(model) <= 64),
  endpoint               TEXT NOT NULL CHECK (endpoint <> ''),
  requests               BIGINT NOT NULL DEFAULT 0 CHECK (requests >= 0),
  successes              BIGINT NOT NULL DEFAULT 0 CHECK (successes >= 0),
  failures_rate_limited  BIGINT NOT NULL DEFAULT 0 CHECK (failures_rate_limited >= 0),
  failures_client        BIGINT NOT NULL DEFAULT 0 CHECK (failures_client >= 0),
  failures_upstream      BIGINT NOT NULL DEFAULT 0 CHECK (failures_upstream >= 0),
  failures_aborted       BIGINT NOT NULL DEFAULT 0 CHECK (failures_aborted >= 0),
  images                 BIGINT NOT NULL DEFAULT 0 CHECK (images >= 0),
  input_tokens           BIGINT NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens          BIGINT NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  total_tokens           BIGINT NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
  usage_missing          BIGINT NOT NULL DEFAULT 0 CHECK (usage_missing >= 0),
  upstream_bytes         BIGINT NOT NULL DEFAULT 0 CHECK (upstream_bytes >= 0),
  latency_ms_sum         BIGINT NOT NULL DEFAULT 0 CHECK (latency_ms_sum >= 0),
  latency_le_100         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_100 >= 0),
  latency_le_250         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_250 >= 0),
  latency_le_500         BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_500 >= 0),
  latency_le_1000        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_1000 >= 0),
  latency_le_2500        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_2500 >= 0),
  latency_le_5000        BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_5000 >= 0),
  latency_le_10000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_10000 >= 0),
  latency_le_20000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_20000 >= 0),
  latency_le_30000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_30000 >= 0),
  latency_le_45000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_45000 >= 0),
  latency_le_60000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_60000 >= 0),
  latency_le_90000       BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_90000 >= 0),
  latency_le_120000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_120000 >= 0),
  latency_le_180000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_180000 >= 0),
  latency_le_300000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_le_300000 >= 0),
  latency_gt_300000      BIGINT NOT NULL DEFAULT 0 CHECK (latency_gt_300000 >= 0),
  CHECK (successes + failures_rate_limited + failures_client + failures_upstream + failures_aborted = requests),
  CHECK (latency_le_100 + latency_le_250 + latency_le_500 + latency_le_1000 + latency_le_2500 + latency_le_5000 + latency_le_10000 + latency_le_20000 + latency_le_30000 + latency_le_45000 + latency_le_60000 + latency_le_90000 + latency_le_120000 + latency_le_180000 + latency_le_300000 + latency_gt_300000 = requests),
  PRIMARY KEY (day_start, key_id, account_id, model, endpoint)
);
