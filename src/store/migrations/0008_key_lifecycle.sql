-- 0008_key_lifecycle: key expiry and secret rotation.
-- `expires_at` (ms since epoch) ends a key by itself: requests after it are refused with
-- `key_expired`; null = never. A rotation gives the key a new secret (a new `key_hash` and
-- `key_prefix`); when the operator grants a grace period, the old secret's hash moves to
-- `previous_key_hash` and keeps working until `previous_key_expires_at`, so clients can switch
-- without an outage. Both previous columns are set together or not at all. Runs on Postgres 15+ and
-- PGlite.

ALTER TABLE api_keys
  ADD COLUMN expires_at BIGINT NULL CHECK (expires_at >= 0),
  ADD COLUMN previous_key_hash TEXT NULL UNIQUE CHECK (previous_key_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN previous_key_expires_at BIGINT NULL CHECK (previous_key_expires_at >= 0),
  ADD CONSTRAINT api_keys_previous_secret_pair CHECK ((previous_key_hash IS NULL) = (previous_key_expires_at IS NULL));
