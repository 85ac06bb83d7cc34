-- 0012_key_budgets: periodic budgets per key, and resetting a key's usage in its period.
-- `quota_period` says over what a key's limits count: `none` (its whole life, as `quota_tokens`
-- always did), or the current `day`, `week` (from Monday) or `month`, whose boundaries fall at
-- midnight in the `budget_time_zone` setting (UTC by default). Within it the key may use up to
-- `quota_tokens` tokens, `quota_images` images and `quota_cost_micros` of estimated cost (millionths
-- of a US dollar); null = no limit on that measure. A period's usage is read from the usage rollups
-- (the lifetime counters for `none`). A reset records the moment and the period's usage at that
-- moment (`usage_reset_*`): until the period ends, usage counts from that baseline. Runs on
-- Postgres 15+ and PGlite.

ALTER TABLE api_keys
  ADD COLUMN quota_period TEXT NOT NULL DEFAULT 'none' CHECK (quota_period IN ('none', 'day', 'week', 'month')),
  ADD COLUMN quota_images BIGINT NULL CHECK (quota_images >= 0),
  ADD COLUMN quota_cost_micros BIGINT NULL CHECK (quota_cost_micros >= 0),
  ADD COLUMN usage_reset_at BIGINT NULL CHECK (usage_reset_at >= 0),
  ADD COLUMN usage_reset_images BIGINT NOT NULL DEFAULT 0 CHECK (usage_reset_images >= 0),
  ADD COLUMN usage_reset_tokens BIGINT NOT NULL DEFAULT 0 CHECK (usage_reset_tokens >= 0),
  ADD COLUMN usage_reset_cost_micros BIGINT NOT NULL DEFAULT 0 CHECK (usage_reset_cost_micros >= 0);
