/**
 * The schema's CHECK constraints and column defaults against FIELD_LIMITS. Applied migrations are
 * never edited, so this is what catches drift: a table entry changed without a migration that moves
 * the constraint (or the reverse) fails here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FIELD_LIMITS, type FieldLimit } from '../../src/config/field-limits.js';
import { migrate } from '../../src/store/migrator.js';
import { describeEachBackend } from '../support/databases.js';

/** A column whose value, or whose length (`length(col)`), the schema bounds. */
interface BoundedColumn {
  table: string;
  column: string;
  measure: 'value' | 'length';
  limit: FieldLimit;
}

const COLUMNS: BoundedColumn[] = [
  { table: 'api_keys', column: 'max_concurrency', measure: 'value', limit: FIELD_LIMITS.keyMaxConcurrency },
  { table: 'api_keys', column: 'min_start_interval_ms', measure: 'value', limit: FIELD_LIMITS.keyMinStartIntervalMs },
  { table: 'api_keys', column: 'quota_tokens', measure: 'value', limit: FIELD_LIMITS.keyQuotaTokens },
  { table: 'accounts', column: 'image_concurrency', measure: 'value', limit: FIELD_LIMITS.accountImageConcurrency },
  { table: 'api_keys', column: 'name', measure: 'length', limit: FIELD_LIMITS.recordName },
  { table: 'accounts', column: 'name', measure: 'length', limit: FIELD_LIMITS.recordName },
  { table: 'groups', column: 'name', measure: 'length', limit: FIELD_LIMITS.recordName },
  { table: 'model_aliases', column: 'alias', measure: 'length', limit: FIELD_LIMITS.modelName },
  { table: 'model_aliases', column: 'upstream_model', measure: 'length', limit: FIELD_LIMITS.modelName },
];

/** Postgres's largest BIGINT: a column without an upper CHECK holds up to this. */
const PG_BIGINT_MAX = 2n ** 63n - 1n;

/** The bounds a CHECK definition (as pg_get_constraintdef prints it) puts on `subject`. */
function readCheckBounds(definitions: readonly string[], subject: string): { min: number | null; max: number | null } {
  const escaped = subject.replace(/[()]/g, '\\$&');
  const find = (op: '>=' | '<='): number | null => {
    const values = definitions.flatMap((def) => [...def.matchAll(new RegExp(`\\(${escaped} ${op} (-?\\d+)\\)`, 'g'))].map((m) => Number(m[1])));
    return values.length === 1 ? values[0]! : null;
  };
  return { min: find('>='), max: find('<=') };
}

describeEachBackend('the schema holds the FIELD_LIMITS bounds', ({ database }) => {
  beforeAll(async () => {
    await migrate(database().db);
  });

  /** Every CHECK constraint on one column, as Postgres prints it. */
  const readChecks = async (table: string, column: string): Promise<string[]> => {
    const rows = await database().db.query<{ def: string }>(
      `SELECT pg_get_constraintdef(c.oid) AS def
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey)
        WHERE c.contype = 'c' AND t.relname = $1 AND a.attname = $2`,
      [table, column],
    );
    return rows.map((r) => r.def);
  };

  it.each(COLUMNS.map((c) => [`${c.table}.${c.column}`, c] as const))("%s: its CHECK bounds are the table's", async (_name, c) => {
    const checks = await readChecks(c.table, c.column);
    const bounds = readCheckBounds(checks, c.measure === 'length' ? `length(${c.column})` : c.column);
    expect(bounds.min, checks.join(' | ')).toBe(c.limit.min);
    if (c.limit.max === Number.MAX_SAFE_INTEGER) {
      expect(bounds.max, 'an unbounded limit has no upper CHECK').toBeNull();
      const [type] = await database().db.query<{ data_type: string }>(
        'SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = $2',
        [c.table, c.column],
      );
      expect(type?.data_type, 'the column holds every safe integer').toBe('bigint');
      expect(BigInt(c.limit.max) <= PG_BIGINT_MAX).toBe(true);
    } else {
      expect(bounds.max, checks.join(' | ')).toBe(c.limit.max);
    }
  });

  it.each(COLUMNS.filter((c) => c.measure === 'value').map((c) => [`${c.table}.${c.column}`, c] as const))(
    "%s: its column default is the table's (none for a limit without one)",
    async (_name, c) => {
      const [row] = await database().db.query<{ column_default: string | null }>(
        'SELECT column_default FROM information_schema.columns WHERE table_name = $1 AND column_name = $2',
        [c.table, c.column],
      );
      expect(row).toBeDefined();
      expect(row!.column_default === null ? null : Number(row!.column_default)).toBe(c.limit.default);
    },
  );
});

describe('readCheckBounds', () => {
  it.each<[string, string[], string, { min: number | null; max: number | null }]>([
    ['BETWEEN as Postgres prints it', ['CHECK (((max_concurrency >= 1) AND (max_concurrency <= 1024)))'], 'max_concurrency', { min: 1, max: 1024 }],
    ['a lower bound only', ['CHECK ((quota_tokens >= 0))'], 'quota_tokens', { min: 0, max: null }],
    [
      'a length bound with a pattern',
      ["CHECK ((((length(alias) >= 1) AND (length(alias) <= 128)) AND (alias ~ '^x$'::text)))"],
      'length(alias)',
      { min: 1, max: 128 },
    ],
    ['another column of the same constraint', ['CHECK (((max_concurrency >= 1) AND (max_concurrency <= 1024)))'], 'concurrency', { min: null, max: null }],
    ['two different lower bounds (ambiguous)', ['CHECK ((x >= 1))', 'CHECK ((x >= 2))'], 'x', { min: null, max: null }],
  ])('%s', (_name, defs, subject, expected) => expect(readCheckBounds(defs, subject)).toEqual(expected));
});
