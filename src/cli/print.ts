import type { AccountImportResult, AccountView, GroupView, InstanceView, JobView, KeyRoutingInput, KeyView, ModelAliasView } from '../control/control-api.js';
import { JOB_REF_MIN_CHARS } from '../control/job-service.js';
import { formatUsdMicros } from '../pricing/format-usd.js';

/**
 * Output for humans (aligned tables, `field  value` lines) and for machines (`--json`).
 * Views never hold a token or a key secret, so nothing printed from them can leak one; the key
 * secret is printed only by `keys create`, from its own function.
 */

/**
 * Aligns rows under headers, two spaces between columns; the last column is not padded. Columns
 * listed in `alignRight` (numbers, so digits line up) are padded on the left, their header too.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], opts: { alignRight?: readonly number[] } = {}): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const right = new Set(opts.alignRight ?? []);
  const pad = (cell: string, i: number, last: boolean): string => {
    if (right.has(i)) return cell.padStart(widths[i] ?? 0);
    return last ? cell : cell.padEnd(widths[i] ?? 0);
  };
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => pad(cell, i, i === row.length - 1))
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}

/** One `label  value` line per field, labels aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** Machine output: pretty JSON, one value per command. */
export const formatJson = (value: unknown): string => JSON.stringify(value, null, 2);

/** Writes one block of output to stdout, newline-terminated. */
export const writeOut = (text: string): void => void process.stdout.write(`${text}\n`);

/** The one error line every failing command prints (multi-line messages are cut to their first line). */
export function formatErrorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${message.split('\n')[0] ?? ''}`;
}

const formatLimit = (v: number | null): string => (v === null ? 'unlimited' : String(v));
const formatTime = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
const formatSwitch = (on: boolean): string => (on ? 'on' : 'off');

/** `all`, `accounts: a, b` or `group: g`. */
export function formatRouting(routing: KeyRoutingInput): string {
  switch (routing.mode) {
    case 'all':
      return 'all accounts';
    case 'accounts':
      return `accounts: ${routing.accounts.join(', ')}`;
    case 'group':
      return `group: ${routing.group}`;
  }
}

/** The `keys list` table. */
export function formatKeyTable(keys: readonly KeyView[]): string {
  const rows = keys.map((k) => [
    k.id,
    k.name,
    `${k.prefix}…`,
    k.status,
    formatSwitch(k.imageEnabled),
    formatLimit(k.quotaTokens),
    formatLimit(k.maxConcurrency),
    formatLimit(k.minStartIntervalMs),
    String(k.usage.requests),
    String(k.usage.totalTokens),
    formatRouting(k.routing),
  ]);
  const headers = ['ID', 'NAME', 'PREFIX', 'STATUS', 'IMAGE', 'QUOTA', 'CONCURRENCY', 'INTERVAL_MS', 'REQUESTS', 'TOKENS', 'ROUTING'];
  return formatTable(headers, rows);
}

/** The key's usage in its quota period, and when the period ends or was last reset. */
function formatPeriodUsage(k: KeyView): string {
  const u = k.periodUsage;
  const span = u.endsAt === null ? 'lifetime' : `${formatTime(u.startsAt)} to ${formatTime(u.endsAt)}`;
  const reset = k.usageResetAt === null || k.usageResetAt < u.startsAt ? '' : `, reset ${formatTime(k.usageResetAt)}`;
  return `${u.images} images, ${u.tokens} tokens, $${u.estimatedCostUsd.toFixed(2)} estimated (${span}${reset})`;
}

/** `keys show`: every field of a key (its prefix only, never a secret). */
export function formatKeyDetails(k: KeyView): string {
  return formatFields([
    ['id', k.id],
    ['name', k.name],
    ['prefix', `${k.prefix}…`],
    ['status', k.status],
    ['image', formatSwitch(k.imageEnabled)],
    ['quota period', k.quotaPeriod === 'none' ? 'none (lifetime)' : k.quotaPeriod],
    ['quota tokens', formatLimit(k.quotaTokens)],
    ['quota images', formatLimit(k.quotaImages)],
    ['quota cost', k.quotaCostUsd === null ? 'unlimited' : `$${k.quotaCostUsd} (estimated)`],
    ['period usage', formatPeriodUsage(k)],
    ['max concurrency', formatLimit(k.maxConcurrency)],
    ['min interval ms', formatLimit(k.minStartIntervalMs)],
    ['routing', formatRouting(k.routing)],
    ['requests', String(k.usage.requests)],
    ['successes', String(k.usage.successes)],
    ['images', String(k.usage.images)],
    ['tokens', `${k.usage.totalTokens} (in ${k.usage.inputTokens}, out ${k.usage.outputTokens})`],
    ['usage missing', String(k.usage.usageMissing)],
    ['estimated cost', `${formatUsdMicros(k.usage.estimatedCostMicros)} (estimate, by the price table)`],
    ['last used', formatTime(k.usage.lastUsedAt)],
    ['expires', k.expiresAt === null ? 'never' : formatTime(k.expiresAt)],
    ...(k.previousSecretExpiresAt === null ? [] : [['old secret until', formatTime(k.previousSecretExpiresAt)] as [string, string]]),
    ['created', formatTime(k.createdAt)],
    ['updated', formatTime(k.updatedAt)],
  ]);
}

/** `keys create`: one of the two outputs that ever hold a key secret. */
export function formatCreatedKey(k: KeyView, secret: string): string {
  return `created key ${k.name} (${k.id}); its secret, shown only now:\n${secret}`;
}

/** `keys rotate`: the other output that holds a key secret, and what happens to the old one. */
export function formatRotatedKey(k: KeyView, secret: string): string {
  const old =
    k.previousSecretExpiresAt === null ? 'the old secret is refused from now on' : `the old secret works until ${formatTime(k.previousSecretExpiresAt)}`;
  return `rotated key ${k.name} (${k.id}); ${old}; its new secret, shown only now:\n${secret}`;
}

/** The `accounts list` table. */
export function formatAccountTable(accounts: readonly AccountView[]): string {
  const rows = accounts.map((a) => [
    a.name,
    a.status,
    formatSwitch(a.imageEnabled),
    String(a.imageConcurrency),
    a.planType ?? '-',
    a.email ?? '-',
    a.proxy ?? 'direct',
    formatTime(a.accessTokenExpiresAt),
    a.lastError ?? '-',
  ]);
  const headers = ['NAME', 'STATUS', 'IMAGE', 'CONCURRENCY', 'PLAN', 'EMAIL', 'PROXY', 'TOKEN_EXPIRES', 'LAST_ERROR'];
  return formatTable(headers, rows);
}

/** `accounts show`: every field of an account (never a token; the proxy password is masked by the service). */
export function formatAccountDetails(a: AccountView): string {
  return formatFields([
    ['id', a.id],
    ['name', a.name],
    ['status', a.status],
    ['image', formatSwitch(a.imageEnabled)],
    ['image concurrency', String(a.imageConcurrency)],
    ['proxy', a.proxy ?? 'direct'],
    ['plan', a.planType ?? '-'],
    ['email', a.email ?? '-'],
    ['chatgpt account id', a.chatgptAccountId ?? '-'],
    ['token expires', formatTime(a.accessTokenExpiresAt)],
    ['refresh token', a.hasRefreshToken ? 'yes' : 'no'],
    ['last refresh', formatTime(a.lastRefreshAt)],
    ['last error', a.lastError ?? '-'],
    ['created', formatTime(a.createdAt)],
    ['updated', formatTime(a.updatedAt)],
  ]);
}

/** `accounts import`: one summary line, `imported …` for a new account, `updated …` (with what changed) for an existing one. */
export function formatImportedAccount(a: AccountImportResult): string {
  const facts = `${a.planType ?? 'unknown plan'}, token expires ${formatTime(a.accessTokenExpiresAt)}, image ${formatSwitch(a.imageEnabled)}`;
  if (a.outcome === 'created') return `imported account ${a.name} (${facts})`;
  return `updated account ${a.name} (changed: ${a.changed.join(', ') || 'nothing'}; ${facts})`;
}

/** The `groups list` table. */
export function formatGroupTable(groups: readonly GroupView[]): string {
  return formatTable(
    ['ID', 'NAME', 'ACCOUNTS'],
    groups.map((g) => [g.id, g.name, g.accounts.join(', ') || '-']),
  );
}

/** `groups show`. */
export function formatGroupDetails(g: GroupView): string {
  return formatFields([
    ['id', g.id],
    ['name', g.name],
    ['accounts', g.accounts.join(', ') || '-'],
    ['created', formatTime(g.createdAt)],
    ['updated', formatTime(g.updatedAt)],
  ]);
}

/** The `models list` table. */
export function formatModelAliasTable(rows: readonly ModelAliasView[]): string {
  return formatTable(
    ['ALIAS', 'UPSTREAM_MODEL', 'KIND'],
    rows.map((r) => [r.alias, r.upstreamModel, r.pattern ? 'prefix' : 'exact']),
  );
}

/** A job's short id (its first JOB_REF_MIN_CHARS hex characters: enough for `jobs show`). */
export const formatJobShortId = (job: JobView): string => job.id.slice(0, JOB_REF_MIN_CHARS);

const formatKeyRef = (job: JobView): string => job.keyName ?? job.keyId;
const formatStatus = (job: JobView): string =>
  job.cancelRequested && (job.status === 'queued' || job.status === 'running') ? `${job.status} (cancel requested)` : job.status;
const formatDuration = (from: number | null, to: number | null): string => (from === null || to === null ? '-' : `${((to - from) / 1000).toFixed(1)}s`);

/** The `jobs list` table: short id, key, endpoint, status, code, times (never a result). */
export function formatJobTable(jobs: readonly JobView[]): string {
  const rows = jobs.map((j) => [
    formatJobShortId(j),
    formatKeyRef(j),
    j.endpoint,
    formatStatus(j),
    j.errorCode ?? '-',
    j.httpStatus === null ? '-' : String(j.httpStatus),
    formatTime(j.createdAt),
    formatDuration(j.createdAt, j.startedAt),
    formatDuration(j.startedAt, j.finishedAt),
  ]);
  return formatTable(['ID', 'KEY', 'ENDPOINT', 'STATUS', 'ERROR', 'HTTP', 'CREATED', 'QUEUED', 'RAN'], rows);
}

/** `jobs show`: every field of a job (its id hash, never the client's job id or the result). */
export function formatJobDetails(j: JobView): string {
  return formatFields([
    ['id', j.id],
    ['key', `${j.keyName ?? '(deleted)'} (${j.keyId})`],
    ['endpoint', j.endpoint],
    ['status', j.status],
    ['cancel requested', j.cancelRequested ? 'yes' : 'no'],
    ['error code', j.errorCode ?? '-'],
    ['http status', j.httpStatus === null ? '-' : String(j.httpStatus)],
    ['instance', j.instanceId],
    ['created', formatTime(j.createdAt)],
    ['started', formatTime(j.startedAt)],
    ['finished', formatTime(j.finishedAt)],
    ['expires', formatTime(j.expiresAt)],
  ]);
}

/** `jobs cancel`: one line saying what happened. */
export function formatJobCancel(j: JobView): string {
  const id = formatJobShortId(j);
  if (j.status === 'queued' || j.status === 'running') return `cancel requested for job ${id} (${j.status}); its instance stops it within a few seconds`;
  return `job ${id} already ended (${j.status}); nothing to cancel`;
}

/** How long ago `ms` was, in whole seconds (`4s ago`). */
const formatAgo = (ms: number, now: number): string => `${Math.max(0, Math.round((now - ms) / 1000))}s ago`;

/** The `instances` table: id, role, state, version, host and pid, addresses, start and last beat. */
export function formatInstanceTable(instances: readonly InstanceView[], now: number): string {
  const rows = instances.map((i) => [
    i.id,
    i.role,
    i.state,
    i.version || '-',
    i.pid === null ? i.hostname || '-' : `${i.hostname}:${i.pid}`,
    [i.listenUrl, i.adminUrl].filter((u) => u !== null).join(' ') || '-',
    formatTime(i.startedAt),
    formatAgo(i.lastSeenAt, now),
  ]);
  return formatTable(['ID', 'ROLE', 'STATE', 'VERSION', 'HOST:PID', 'LISTEN', 'STARTED', 'LAST SEEN'], rows);
}
