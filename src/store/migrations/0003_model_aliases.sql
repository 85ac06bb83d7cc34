-- 0003_model_aliases: which upstream model serves each model name a client may ask for.
-- `alias` is an exact name or a prefix pattern ending in `*`; the shape rule is the same as
-- isValidModelAlias / isValidUpstreamModel in src/images/model-aliases.ts (a test holds them together).
-- Seeded with DEFAULT_MODEL_ALIASES (a test checks the seed equals it).
-- Runs on Postgres 15+ and PGlite.

CREATE TABLE model_aliases (
  alias           TEXT PRIMARY KEY CHECK (length(alias) BETWEEN 1 AND 128 AND alias ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]*\*?$'),
  upstream_model  TEXT NOT NULL CHECK (length(upstream_model) BETWEEN 1 AND 128 AND upstream_model ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]*$'),
  created_at      BIGINT NOT NULL CHECK (created_at >= 0),
  updated_at      BIGINT NOT NULL CHECK (updated_at >= 0)
);

INSERT INTO model_aliases (alias, upstream_model, created_at, updated_at)
SELECT t.alias, 'gpt-image-2', now_ms, now_ms
  FROM (VALUES ('gpt-image-1'), ('gpt-image-1.5'), ('gpt-image-1-mini'), ('chatgpt-image-latest'), ('dall-e-2'), ('dall-e-3'),
               ('gpt-image-*'), ('chatgpt-image-*'), ('dall-e-*')) AS t(alias),
       (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms) AS clock;
