-- 0013_usage_image_input_tokens: input tokens that were images, beside all input tokens.
-- An edit's input images are billed at the image-input rate, so the usage history keeps them apart:
-- `image_input_tokens` is the part of `input_tokens` the upstream reported as image tokens
-- (`usage.input_tokens_details.image_tokens`); text input is the rest. Existing rows start at 0.
-- Runs on Postgres 15+ and PGlite.

ALTER TABLE usage_hourly
  ADD COLUMN image_input_tokens BIGINT NOT NULL DEFAULT 0 CHECK (image_input_tokens >= 0);

ALTER TABLE usage_daily
  ADD COLUMN image_input_tokens BIGINT NOT NULL DEFAULT 0 CHECK (image_input_tokens >= 0);
