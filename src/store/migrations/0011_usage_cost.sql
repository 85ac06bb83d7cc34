-- 0011_usage_cost: the estimated cost of usage, in integer micro-USD (1e-6 USD), recorded with it.
-- Each finished request's cost is estimated by the data plane from the price table setting in force
-- when it ended (src/pricing/cost-estimate.ts) and added like the other measures: to its key's
-- lifetime counters and to its hourly rollup row, in the same transaction. Integers, so sums
-- reconcile exactly; "estimated" in every name, since it is never a bill. `unpriced_requests`
-- counts requests that produced images or tokens for a model the table did not price (their cost
-- counted as 0), so a report can say how much of it is unpriced. Existing rows start at 0.
-- Runs on Postgres 15+ and PGlite.

ALTER TABLE key_usage
  ADD COLUMN estimated_cost_micros BIGINT NOT NULL DEFAULT 0 CHECK (estimated_cost_micros >= 0);

ALTER TABLE usage_hourly
  ADD COLUMN estimated_cost_micros BIGINT NOT NULL DEFAULT 0 CHECK (estimated_cost_micros >= 0),
  ADD COLUMN unpriced_requests     BIGINT NOT NULL DEFAULT 0 CHECK (unpriced_requests >= 0),
  ADD CHECK (unpriced_requests <= requests);

ALTER TABLE usage_daily
  ADD COLUMN estimated_cost_micros BIGINT NOT NULL DEFAULT 0 CHECK (estimated_cost_micros >= 0),
  ADD COLUMN unpriced_requests     BIGINT NOT NULL DEFAULT 0 CHECK (unpriced_requests >= 0),
  ADD CHECK (unpriced_requests <= requests);
