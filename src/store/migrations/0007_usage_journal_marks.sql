-- 0007_usage_journal_marks: how far each data-plane process's local usage journal has been applied.
-- A data plane appends every usage increment to a journal on its own disk before it counts it, and
-- writes the increments here in batches. Each batch advances `applied_seq` (the highest journal
-- record it holds) in the same transaction as the increments, so replaying a journal after a kill
-- adds only the records past the mark: no increment is counted twice, none is lost. `writer_id`
-- names one process's journal (random, never reused); its row is deleted once that journal's files
-- are gone. Runs on Postgres 15+ and PGlite.

CREATE TABLE usage_journal_marks (
  writer_id    TEXT PRIMARY KEY CHECK (writer_id ~ '^[a-z0-9-]{1,64}$'),
  applied_seq  BIGINT NOT NULL CHECK (applied_seq >= 0),
  updated_at   BIGINT NOT NULL CHECK (updated_at >= 0)
);

-- The database's own random id, fixed at migration time. A journal directory records the id of the
-- database its process wrote to, and is only ever replayed into that database: a data directory
-- pointed at another database leaves it alone instead of adding its usage to the wrong counters.
CREATE TABLE database_identity (
  id           SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  database_id  TEXT NOT NULL CHECK (database_id ~ '^[0-9a-f]{32}$')
);
INSERT INTO database_identity (id, database_id) VALUES (1, md5(random()::text || clock_timestamp()::text));
