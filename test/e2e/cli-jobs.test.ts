import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { runCli, spawnStart, type CliDaemon, type CliResult } from '../support/cli-process.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';
import type { Wire } from '../../src/control/admin-wire.js';
import type { InstanceView } from '../../src/control/control-api.js';

const SLOW_MS = 120_000;
const ACCOUNT = 'acct-cli-jobs';

interface WireJob {
  id: string;
  key_name: string | null;
  endpoint: string;
  status: string;
  cancel_requested: boolean;
  error_code: string | null;
  http_status: number | null;
  instance_id: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** An instance as the admin API and `instances --json` send it. */
type WireInstance = Wire<InstanceView>;

/**
 * `jobs list|show|cancel` and `instances`: first through a running `start` (the data directory is
 * locked, so the CLI uses its admin API) while a job runs at the fake upstream, then directly on the
 * embedded database once the instance has stopped.
 */
describe('CLI jobs list|show|cancel', () => {
  let dir = '';
  let fake: FakeCodexUpstream;
  let daemon: CliDaemon | null = null;
  let gatewayUrl = '';
  let secret = '';
  /** The client's job ids: secrets that no CLI output may hold. */
  const clientIds: string[] = [];
  const outputs: string[] = [];
  const dataDir = () => join(dir, 'data');

  async function cli(args: string[]): Promise<CliResult> {
    const result = await runCli([...args, '--data-dir', dataDir()]);
    outputs.push(`${result.stdout}\n${result.stderr}`);
    return result;
  }
  async function ok(args: string[]): Promise<string> {
    const result = await cli(args);
    expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result.stdout;
  }
  const json = async <T>(args: string[]): Promise<T> => JSON.parse(await ok([...args, '--json'])) as T;

  async function submitJob(): Promise<string> {
    const res = await fetch(`${gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ prompt: 'a job the operator watches' }),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    clientIds.push(id);
    return id;
  }
  const clientView = async (id: string, query = '') =>
    (await (await fetch(`${gatewayUrl}/v1/images/jobs/${id}${query}`, { headers: { authorization: `Bearer ${secret}` } })).json()) as { status: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-cli-jobs-'));
    fake = await startFakeCodexUpstream();
    const started = await spawnStart(dataDir(), {
      CODEX_UPSTREAM_BASE_URL: fake.baseUrl,
      CODEX_OAUTH_TOKEN_URL: fake.oauthUrl,
      JOB_HEARTBEAT_MS: '200',
    });
    daemon = started.daemon;
    gatewayUrl = started.instance.gatewayUrl;
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify(makeCodexAuthJson({ accountId: ACCOUNT })));
    await ok(['accounts', 'import', authFile, '--name', 'job-acct']);
    secret = (await json<{ secret: string }>(['keys', 'create', '--name', 'job-key'])).secret;
  }, SLOW_MS);

  afterAll(async () => {
    await daemon?.stop();
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  }, SLOW_MS);

  it('lists a finished and a running job through the running instance, by id hash', { timeout: SLOW_MS }, async () => {
    fake.setBehavior('*', fakeBehaviors.success({ delayMs: 100 }));
    const done = await submitJob();
    expect((await clientView(done, '?wait=30')).status).toBe('succeeded');
    // Longer than this whole file may take on a loaded machine (each CLI call starts a process), but
    // inside the upstream headers timeout: the job must still be running when the cancel comes.
    fake.setBehavior('*', fakeBehaviors.success({ delayMs: 300_000 }));
    await submitJob();
    await waitFor('the second job at the upstream', async () => (fake.concurrency.current(ACCOUNT) === 1 ? true : null));
    const jobs = await json<WireJob[]>(['jobs', 'list']);
    expect(jobs.map((j) => j.status)).toEqual(['running', 'succeeded']);
    for (const job of jobs) expect(job.id).toMatch(/^[0-9a-f]{64}$/);
    expect(jobs[1]).toMatchObject({ key_name: 'job-key', endpoint: 'generations', http_status: 200, error_code: null });
    expect(jobs[1]!.finished_at).toBeGreaterThanOrEqual(jobs[1]!.started_at!);
    const table = (await ok(['jobs', 'list', '--status', 'running'])).trimEnd().split('\n');
    expect(table).toHaveLength(2);
    expect(table[0]).toMatch(/^ID +KEY +ENDPOINT +STATUS/);
    expect(table[1]).toMatch(new RegExp(`^${jobs[0]!.id.slice(0, 12)} +job-key +generations +running `));
  });

  it('instances lists the running start, live, with its listeners; its jobs are filed under its id', { timeout: SLOW_MS }, async () => {
    const [self] = await json<WireInstance[]>(['instances']);
    expect(self).toMatchObject({ role: 'start', state: 'live', live: true, listen_url: gatewayUrl, status_url: gatewayUrl });
    expect(self!.admin_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await json<WireJob[]>(['jobs', 'list'])).map((j) => j.instance_id)).toEqual([self!.id, self!.id]);
    const table = (await ok(['instances'])).trimEnd().split('\n');
    expect(table[0]).toMatch(/^ID +ROLE +STATE +VERSION +HOST:PID +LISTEN +STARTED +LAST SEEN$/);
    expect(table[1]).toMatch(new RegExp(`^${self!.id} +start +live `));
  });

  it('shows a job by a 12-character prefix; errors are one line', { timeout: SLOW_MS }, async () => {
    const [running] = await json<WireJob[]>(['jobs', 'list', '--key', 'job-key', '--limit', '1']);
    const show = await ok(['jobs', 'show', running!.id.slice(0, 12)]);
    expect(show).toMatch(new RegExp(`^id +${running!.id}$`, 'm'));
    expect(show).toMatch(/^status +running$/m);
    expect(show).toMatch(/^cancel requested +no$/m);
    const short = await cli(['jobs', 'show', 'abc']);
    expect([short.code, short.stderr.trim()]).toEqual([1, 'error: job must be a job id as `jobs list` shows it (at least 12 of its hex characters)']);
    const ghost = await cli(['jobs', 'list', '--key', 'ghost']);
    expect([ghost.code, ghost.stderr.trim()]).toEqual([1, 'error: unknown key `ghost`']);
  });

  it('cancel stops the running job: the client sees cancelled and the upstream call is cut', { timeout: SLOW_MS }, async () => {
    const [running, done] = await json<WireJob[]>(['jobs', 'list']);
    expect((await ok(['jobs', 'cancel', running!.id.slice(0, 16)])).trim()).toBe(
      `cancel requested for job ${running!.id.slice(0, 12)} (running); its instance stops it within a few seconds`,
    );
    await waitFor('the upstream call to be cut', async () => (fake.concurrency.current(ACCOUNT) === 0 ? true : null), 20_000);
    expect((await clientView(clientIds[1]!, '?wait=10')).status).toBe('cancelled');
    expect(await json<WireJob>(['jobs', 'show', running!.id])).toMatchObject({ id: running!.id, status: 'cancelled' });
    expect((await ok(['jobs', 'cancel', done!.id])).trim()).toBe(`job ${done!.id.slice(0, 12)} already ended (succeeded); nothing to cancel`);
  });

  it('works directly on the embedded database once the instance has stopped', { timeout: SLOW_MS }, async () => {
    const viaInstance = await json<WireJob[]>(['jobs', 'list']);
    expect(await daemon?.stop()).toBe(0);
    const direct = await json<WireJob[]>(['jobs', 'list']);
    expect(direct).toEqual(viaInstance);
    expect(direct.map((j) => j.status)).toEqual(['cancelled', 'succeeded']);
    expect(await json<WireJob>(['jobs', 'show', direct[1]!.id.slice(0, 12)])).toEqual(direct[1]);
    expect(await json<WireJob[]>(['jobs', 'list', '--status', 'running'])).toEqual([]);
    expect(await json<WireInstance[]>(['instances'])).toEqual([expect.objectContaining({ role: 'start', state: 'stopped', live: false })]);
  });

  it('no output ever held a client job id or an image', () => {
    expect(clientIds).toHaveLength(2);
    const all = outputs.join('\n');
    for (const id of clientIds) expect(all).not.toContain(id.slice('imgjob_'.length));
    expect(all).not.toContain('b64_json');
    expect(all).not.toContain('"result');
  });
});
