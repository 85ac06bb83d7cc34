-- 0004_hosted_results: images behind hosted result URLs (RESULT_URL_MODE=hosted).
-- The URL's token is never stored: `id_hash` is the SHA-256 of its secret (src/store/capability-seal.ts)
-- and `sealed` is the image's bytes under AES-256-GCM with a key derived from that secret, so a
-- copy of the database opens nothing. Rows past `expires_at` are never served and are deleted by
-- the data plane's sweeper. Runs on Postgres 15+ and PGlite.

CREATE TABLE hosted_results (
  id_hash       TEXT PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  content_type  TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
  sealed        BYTEA NOT NULL,
  created_at    BIGINT NOT NULL CHECK (created_at >= 0),
  expires_at    BIGINT NOT NULL CHECK (expires_at > created_at)
);

CREATE INDEX hosted_results_expires_at ON hosted_results (expires_at);
