-- 0001_init: control data (keys, accounts, groups, settings) and per-key usage counters.
-- Runs on Postgres 15+ and PGlite (Postgres 18). Timestamps are BIGINT milliseconds since the epoch.
-- Secrets are never stored in clear: keys as SHA-256 hex, account credentials and proxy URLs as
-- AES-256-GCM envelopes (bytea) under the master key.

CREATE TABLE groups (
  id          TEXT PRIMARY KEY CHECK (id ~ '^grp_[0-9a-f]{8,64}$'),
  name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  created_at  BIGINT NOT NULL CHECK (created_at >= 0),
  updated_at  BIGINT NOT NULL CHECK (updated_at >= 0)
);

CREATE TABLE accounts (
  id                       TEXT PRIMARY KEY CHECK (id ~ '^acct_[0-9a-f]{8,64}$'),
  name                     TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  status                   TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  image_enabled            BOOLEAN NOT NULL DEFAULT TRUE,
  image_concurrency        INTEGER NOT NULL DEFAULT 3 CHECK (image_concurrency BETWEEN 1 AND 1024),
  -- Proxy URLs may carry a password: encrypted like the credentials.
  proxy_url_enc            BYTEA NULL,
  -- The whole auth JSON (access, refresh and id tokens), encrypted.
  credentials_enc          BYTEA NOT NULL,
  has_refresh_token        BOOLEAN NOT NULL DEFAULT FALSE,
  chatgpt_account_id       TEXT NULL,
  email                    TEXT NULL,
  plan_type                TEXT NULL,
  access_token_expires_at  BIGINT NULL,
  last_refresh_at          BIGINT NULL,
  last_error               TEXT NULL,
  created_at               BIGINT NOT NULL CHECK (created_at >= 0),
  updated_at               BIGINT NOT NULL CHECK (updated_at >= 0)
);

CREATE INDEX accounts_chatgpt_account_id_idx ON accounts (chatgpt_account_id);

CREATE TABLE group_accounts (
  group_id    TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  position    INTEGER NOT NULL CHECK (position >= 0),
  PRIMARY KEY (group_id, account_id)
);

CREATE INDEX group_accounts_account_idx ON group_accounts (account_id);

CREATE TABLE api_keys (
  id                     TEXT PRIMARY KEY CHECK (id ~ '^key_[0-9a-f]{8,64}$'),
  name                   TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  key_hash               TEXT NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  key_prefix             TEXT NOT NULL CHECK (length(key_prefix) BETWEEN 1 AND 32),
  status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  image_enabled          BOOLEAN NOT NULL DEFAULT TRUE,
  quota_tokens           BIGINT NULL CHECK (quota_tokens >= 0),
  max_concurrency        INTEGER NULL CHECK (max_concurrency BETWEEN 1 AND 1024),
  min_start_interval_ms  INTEGER NULL CHECK (min_start_interval_ms BETWEEN 0 AND 300000),
  routing_mode           TEXT NOT NULL DEFAULT 'all' CHECK (routing_mode IN ('all', 'accounts', 'group')),
  group_id               TEXT NULL REFERENCES groups (id) ON DELETE RESTRICT,
  created_at             BIGINT NOT NULL CHECK (created_at >= 0),
  updated_at             BIGINT NOT NULL CHECK (updated_at >= 0),
  CONSTRAINT api_keys_group_matches_mode CHECK ((routing_mode = 'group') = (group_id IS NOT NULL))
);

CREATE INDEX api_keys_group_idx ON api_keys (group_id);

CREATE TABLE key_accounts (
  key_id      TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  position    INTEGER NOT NULL CHECK (position >= 0),
  PRIMARY KEY (key_id, account_id)
);

CREATE INDEX key_accounts_account_idx ON key_accounts (account_id);

CREATE TABLE key_usage (
  key_id         TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
  requests       BIGINT NOT NULL DEFAULT 0 CHECK (requests >= 0),
  successes      BIGINT NOT NULL DEFAULT 0 CHECK (successes >= 0),
  images         BIGINT NOT NULL DEFAULT 0 CHECK (images >= 0),
  input_tokens   BIGINT NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens  BIGINT NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  total_tokens   BIGINT NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
  usage_missing  BIGINT NOT NULL DEFAULT 0 CHECK (usage_missing >= 0),
  last_used_at   BIGINT NULL
);

-- One row per setting that differs from the defaults (SETTINGS_DEFAULTS in the code is the one place defaults live).
CREATE TABLE settings (
  name        TEXT PRIMARY KEY CHECK (name ~ '^[a-zA-Z][a-zA-Z0-9]{0,63}$'),
  value       JSONB NOT NULL,
  updated_at  BIGINT NOT NULL CHECK (updated_at >= 0)
);
