-- 0002_account_health: an account whose refresh token the OAuth server refused for good
-- (expired, reused, invalidated) needs a new auth.json import; until then it leaves routing.
-- Runs on Postgres 15+ and PGlite.

ALTER TABLE accounts ADD COLUMN needs_reimport BOOLEAN NOT NULL DEFAULT FALSE;
