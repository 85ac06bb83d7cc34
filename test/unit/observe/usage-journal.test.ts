import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSegmentNames, readUsageJournalSegment, UsageJournal, type UsageJournalOptions } from '../../../src/observe/usage-journal.js';
import { parseRecordLine } from '../../../src/observe/usage-journal-record.js';
import type { KeyUsageDelta, UsageRollupFacts } from '../../../src/store/types.js';

const FACTS: UsageRollupFacts = {
  hourStart: 3_600_000,
  accountId: 'acct_1',
  model: 'gpt-image-1',
  endpoint: 'generations',
  failureClass: null,
  upstreamBytes: 120,
  latencyMs: 800,
  unpriced: false,
  imageInputTokens: 0,
};

const delta = (keyId: string, overrides: Partial<KeyUsageDelta> = {}): KeyUsageDelta => ({
  keyId,
  requests: 1,
  successes: 1,
  images: 1,
  inputTokens: 3,
  outputTokens: 4,
  totalTokens: 7,
  usageMissing: 0,
  estimatedCostMicros: 42_000,
  lastUsedAt: 1_000,
  ...overrides,
});

let dir = '';
const journals: UsageJournal[] = [];
function openJournal(overrides: Partial<UsageJournalOptions> = {}): { journal: UsageJournal; errors: unknown[] } {
  const errors: unknown[] = [];
  const journal = new UsageJournal({ dir, maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, syncIntervalMs: 10, onError: (e) => errors.push(e), ...overrides });
  journals.push(journal);
  return { journal, errors };
}
const readAll = () => listSegmentNames(dir).flatMap((name) => readUsageJournalSegment(dir, name).records);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cig-journal-unit-'));
});
afterEach(() => {
  for (const journal of journals.splice(0)) journal.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('UsageJournal', () => {
  it('appends each increment as a numbered record, readable before any sync or close', () => {
    const { journal, errors } = openJournal();
    expect([journal.append(delta('a'), FACTS), journal.append(delta('b', { images: 2 }), FACTS), journal.append(delta('a'), FACTS)]).toEqual([1, 2, 3]);
    expect(readAll()).toEqual([
      { seq: 1, delta: delta('a'), facts: FACTS },
      { seq: 2, delta: delta('b', { images: 2 }), facts: FACTS },
      { seq: 3, delta: delta('a'), facts: FACTS },
    ]);
    expect(errors).toEqual([]);
  });

  it('starts a new segment once the active one is full, and deletes a closed one once the database holds all of it', () => {
    const { journal } = openJournal({ maxFileBytes: 1 });
    for (const key of ['a', 'b', 'c']) journal.append(delta(key), FACTS);
    expect(listSegmentNames(dir)).toEqual(['segment-0000000000000001.jsonl', 'segment-0000000000000002.jsonl', 'segment-0000000000000003.jsonl']);
    journal.markApplied(1);
    expect(listSegmentNames(dir)).toEqual(['segment-0000000000000002.jsonl', 'segment-0000000000000003.jsonl']);
    // Record 3's segment is full and applied: it is retired too, so an idle journal does not keep it.
    journal.markApplied(3);
    expect(listSegmentNames(dir)).toEqual([]);
    expect(journal.append(delta('d'), FACTS)).toBe(4);
    expect(readAll().map((r) => r.seq)).toEqual([4]);
  });

  it('starts a new segment once the active one is older than maxFileAgeMs', () => {
    let nowMs = 0;
    const { journal } = openJournal({ maxFileAgeMs: 100, now: () => nowMs });
    journal.append(delta('a'), FACTS);
    nowMs = 99;
    journal.append(delta('a'), FACTS);
    nowMs = 100;
    journal.append(delta('a'), FACTS);
    expect(listSegmentNames(dir)).toEqual(['segment-0000000000000001.jsonl', 'segment-0000000000000003.jsonl']);
  });

  it('keeps a segment the database does not fully hold yet', () => {
    const { journal } = openJournal({ maxFileBytes: 200 });
    for (let i = 0; i < 6; i++) journal.append(delta('a'), FACTS);
    const before = listSegmentNames(dir);
    expect(before.length).toBeGreaterThan(1);
    const firstLast = readUsageJournalSegment(dir, before[0]!).records.at(-1)!.seq;
    journal.markApplied(firstLast - 1);
    expect(listSegmentNames(dir)).toEqual(before);
  });

  it('close deletes everything when the database holds every record', () => {
    const { journal } = openJournal();
    journal.append(delta('a'), FACTS);
    journal.markApplied(1);
    expect(journal.close()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('close keeps the journal for the next start while records are not applied', () => {
    const { journal } = openJournal();
    journal.append(delta('a'), FACTS);
    journal.append(delta('b'), FACTS);
    journal.markApplied(1);
    expect(journal.close()).toBe(false);
    expect(readAll().map((r) => r.seq)).toEqual([1, 2]);
  });

  it('a failed write is reported and still numbered, never thrown; later records are written again', () => {
    const { journal, errors } = openJournal({ maxFileBytes: 1 }); // every record opens a new segment
    journal.append(delta('a'), FACTS);
    rmSync(dir, { recursive: true, force: true });
    expect(journal.append(delta('b'), FACTS)).toBe(2);
    expect(errors).toEqual([expect.objectContaining({ code: 'ENOENT' })]);
    mkdirSync(dir);
    expect(journal.append(delta('c'), FACTS)).toBe(3);
    expect(readAll()).toEqual([{ seq: 3, delta: delta('c'), facts: FACTS }]);
  });
});

describe('readUsageJournalSegment', () => {
  const SEGMENT = 'segment-0000000000000001.jsonl';
  const line = (seq: number, keyId = 'a') =>
    `${JSON.stringify({ seq, keyId, requests: 1, successes: 1, images: 1, inputTokens: 0, outputTokens: 0, totalTokens: 5, usageMissing: 0, lastUsedAt: 9 })}\n`;

  it('skips a torn last record (no newline: the writer died mid-line) and keeps the rest', () => {
    appendFileSync(join(dir, SEGMENT), `${line(1)}${line(2)}${line(3).slice(0, 25)}`);
    const contents = readUsageJournalSegment(dir, SEGMENT);
    expect(contents.records.map((r) => r.seq)).toEqual([1, 2]);
    expect(contents.skipped).toEqual([{ segment: SEGMENT, line: 3, reason: 'torn' }]);
  });

  it('a torn record that happens to be valid JSON is still skipped: only a newline completes a record', () => {
    appendFileSync(join(dir, SEGMENT), `${line(1)}${line(2).trimEnd()}`);
    expect(readUsageJournalSegment(dir, SEGMENT).records.map((r) => r.seq)).toEqual([1]);
  });

  it('skips a damaged line in the middle and reads on', () => {
    appendFileSync(join(dir, SEGMENT), `${line(1)}{"seq":2,"keyId":\n${line(3)}`);
    const contents = readUsageJournalSegment(dir, SEGMENT);
    expect(contents.records.map((r) => r.seq)).toEqual([1, 3]);
    expect(contents.skipped).toEqual([{ segment: SEGMENT, line: 2, reason: 'unreadable' }]);
  });

  it('lists only segment files, in sequence order', () => {
    for (const name of ['segment-0000000000000010.jsonl', 'segment-0000000000000002.jsonl', 'gateway.lock', 'database-id', 'segment-1.jsonl'])
      appendFileSync(join(dir, name), '');
    expect(listSegmentNames(dir)).toEqual(['segment-0000000000000002.jsonl', 'segment-0000000000000010.jsonl']);
  });
});

describe('parseRecordLine', () => {
  const valid = {
    seq: 4,
    keyId: 'key_1',
    requests: 1,
    successes: 0,
    images: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    usageMissing: 0,
    lastUsedAt: 5,
  };
  it('reads a valid record', () => {
    expect(parseRecordLine(JSON.stringify(valid))).toEqual({
      seq: 4,
      delta: {
        keyId: 'key_1',
        requests: 1,
        successes: 0,
        images: 0,
        inputTokens: 0,
        outputTokens: 0,
        totalTokens: 0,
        usageMissing: 0,
        estimatedCostMicros: 0,
        lastUsedAt: 5,
      },
      facts: null,
    });
  });
  it('reads the estimated cost and the unpriced mark; a line an earlier release wrote without them replays as 0 and priced', () => {
    const withCost = { ...valid, ...FACTS, estimatedCostMicros: 167_000, unpriced: true };
    expect(parseRecordLine(JSON.stringify(withCost))).toMatchObject({ delta: { estimatedCostMicros: 167_000 }, facts: { ...FACTS, unpriced: true } });
    const { unpriced: _u, imageInputTokens: _i, ...oldFacts } = FACTS;
    expect(parseRecordLine(JSON.stringify({ ...valid, ...oldFacts }))).toMatchObject({
      delta: { estimatedCostMicros: 0 },
      facts: { ...FACTS, unpriced: false },
    });
    expect(parseRecordLine(JSON.stringify({ ...withCost, estimatedCostMicros: -1 }))).toBeNull();
    expect(parseRecordLine(JSON.stringify({ ...withCost, unpriced: 'yes' }))?.facts).toBeNull();
  });
  it('reads the image part of the input tokens; a line written before it replays with none', () => {
    expect(parseRecordLine(JSON.stringify({ ...valid, ...FACTS, imageInputTokens: 5 }))?.facts).toMatchObject({ imageInputTokens: 5 });
    const { imageInputTokens: _i, ...older } = FACTS;
    expect(parseRecordLine(JSON.stringify({ ...valid, ...older }))?.facts).toMatchObject({ imageInputTokens: 0 });
    expect(parseRecordLine(JSON.stringify({ ...valid, ...FACTS, imageInputTokens: -5 }))?.facts).toBeNull();
  });
  it('reads the rollup facts of a record that has them, and drops only the facts when they are damaged', () => {
    const withFacts = { ...valid, ...FACTS, failureClass: 'rate_limited', accountId: null };
    expect(parseRecordLine(JSON.stringify(withFacts))?.facts).toEqual({ ...FACTS, failureClass: 'rate_limited', accountId: null });
    for (const damaged of [{ failureClass: 'teapot' }, { hourStart: -1 }, { endpoint: '' }, { accountId: 5 }, { latencyMs: 1.5 }]) {
      const record = parseRecordLine(JSON.stringify({ ...withFacts, ...damaged }));
      expect(record?.delta.keyId, JSON.stringify(damaged)).toBe('key_1');
      expect(record?.facts, JSON.stringify(damaged)).toBeNull();
    }
  });
  it.each<[string, unknown]>([
    ['seq 0', { ...valid, seq: 0 }],
    ['a negative counter', { ...valid, images: -1 }],
    ['a fractional counter', { ...valid, totalTokens: 1.5 }],
    ['a missing counter', { ...valid, usageMissing: undefined }],
    ['an empty key id', { ...valid, keyId: '' }],
    ['a number as key id', { ...valid, keyId: 7 }],
    ['an array', [valid]],
    ['null', null],
  ])('rejects %s', (_name, value) => {
    expect(parseRecordLine(JSON.stringify(value))).toBeNull();
  });
  it('rejects text that is not JSON', () => expect(parseRecordLine('{"seq":1,')).toBeNull());
});
