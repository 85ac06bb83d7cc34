-- 0009_instance_registry: gateway_instances (0005, until now the data planes that run async jobs)
-- becomes the registry of every process: `start`, `serve` and `control` each keep one row, beaten
-- every INSTANCE_HEARTBEAT_MS, so operators see which processes run where, and a control plane finds
-- the data planes whose GET /status it reads. A row holds addresses and facts about the process,
-- never a token. A clean stop sets `stopped_at`; a process killed just stops beating.
-- Runs on Postgres 15+ and PGlite. Rows a data plane of an older build wrote before this migration
-- keep the defaults (role `serve`, version and addresses unknown) until that process restarts.

ALTER TABLE gateway_instances
  ADD COLUMN role          TEXT NOT NULL DEFAULT 'serve' CHECK (role IN ('start', 'serve', 'control')),
  ADD COLUMN version       TEXT NOT NULL DEFAULT '' CHECK (length(version) <= 64),
  ADD COLUMN hostname      TEXT NOT NULL DEFAULT '' CHECK (length(hostname) <= 255),
  ADD COLUMN pid           INTEGER NULL CHECK (pid IS NULL OR pid > 0),
  -- The beat period this process promised: liveness is judged against the row's own period.
  ADD COLUMN heartbeat_ms  INTEGER NOT NULL DEFAULT 5000 CHECK (heartbeat_ms > 0),
  -- Where the data-plane and admin listeners are bound (null: the role has none).
  ADD COLUMN listen_url    TEXT NULL CHECK (listen_url IS NULL OR length(listen_url) <= 512),
  ADD COLUMN admin_url     TEXT NULL CHECK (admin_url IS NULL OR length(admin_url) <= 512),
  -- Base URL at which other processes reach this data plane's GET /status (ADVERTISE_URL, else the
  -- bound address); null when it has no status endpoint (a `serve` without ADMIN_TOKEN).
  ADD COLUMN status_url    TEXT NULL CHECK (status_url IS NULL OR length(status_url) <= 512),
  ADD COLUMN stopped_at    BIGINT NULL CHECK (stopped_at IS NULL OR stopped_at >= 0);
