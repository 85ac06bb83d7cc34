-- 0006_master_key_check: proof of which master key seals this database's credentials.
-- One row, written by the first writer process (start, control, the embedded CLI) that runs with a
-- key: `sealed` is a fixed text sealed under the master key (AES-256-GCM, the credential cipher's
-- envelope and its own associated data), so a process with another key finds out at start instead
-- of serving 503s; `fingerprint` is a short non-reversible id of the key (first 16 hex of a SHA-256),
-- printed so an operator can tell which key is expected. The key itself is never stored.
-- Runs on Postgres 15+ and PGlite.

CREATE TABLE master_key_check (
  id           SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  fingerprint  TEXT NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
  sealed       BYTEA NOT NULL,
  created_at   BIGINT NOT NULL CHECK (created_at >= 0)
);
