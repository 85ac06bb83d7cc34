-- 0005_image_jobs: async image jobs (Prefer: respond-async) and the data-plane instances that run them.
-- Runs on Postgres 15+ and PGlite. A job's id is a capability held only by the client: the table keeps
-- its SHA-256 (id_hash) and the result sealed under a key derived from it, never the id or the result
-- in clear. The request itself (prompt, images) is never stored: it lives in the running instance.

CREATE TABLE gateway_instances (
  id            TEXT PRIMARY KEY CHECK (id ~ '^inst_[0-9a-f]{8,64}$'),
  started_at    BIGINT NOT NULL CHECK (started_at >= 0),
  heartbeat_at  BIGINT NOT NULL CHECK (heartbeat_at >= 0)
);

CREATE TABLE image_jobs (
  id_hash           TEXT PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  key_id            TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  instance_id       TEXT NOT NULL,
  endpoint          TEXT NOT NULL CHECK (endpoint IN ('generations', 'edits')),
  status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')),
  -- Set by a cancel that reached another instance; the owner aborts the job when it sees it.
  cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
  -- An enum-like code for operators (never a message: that is inside the sealed result).
  error_code        TEXT NULL CHECK (error_code IS NULL OR error_code ~ '^[a-z_]{1,64}$'),
  http_status       INTEGER NULL CHECK (http_status IS NULL OR http_status BETWEEN 100 AND 599),
  -- AES-256-GCM of {status, body} under the key derived from the job id; NULL until it ends, and after it expires.
  result_sealed     BYTEA NULL,
  created_at        BIGINT NOT NULL CHECK (created_at >= 0),
  started_at        BIGINT NULL,
  finished_at       BIGINT NULL,
  expires_at        BIGINT NULL
);

CREATE INDEX image_jobs_key_idx ON image_jobs (key_id, created_at);
CREATE INDEX image_jobs_open_idx ON image_jobs (instance_id) WHERE status IN ('queued', 'running');
CREATE INDEX image_jobs_expires_idx ON image_jobs (expires_at) WHERE expires_at IS NOT NULL;
