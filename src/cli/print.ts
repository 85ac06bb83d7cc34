import type { AccountView, GroupView, KeyRoutingInput, KeyView, ModelAliasView } from '../control/control-api.js';

/**
 * Output for humans (aligned tables, `field  value` lines) and for machines (`--json`).
 * Views never hold a token or a key secret, so nothing printed from them can leak one; the key
 * secret is printed only by `keys create`, from its own function.
 */

/** Aligns rows under headers, two spaces between columns; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
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
    k.id, k.name, `${k.prefix}…`, k.status, formatSwitch(k.imageEnabled), formatLimit(k.quotaTokens),
    formatLimit(k.maxConcurrency), formatLimit(k.minStartIntervalMs), String(k.usage.requests),
    String(k.usage.totalTokens), formatRouting(k.routing),
  ]);
  const headers = ['ID', 'NAME', 'PREFIX', 'STATUS', 'IMAGE', 'QUOTA', 'CONCURRENCY', 'INTERVAL_MS', 'REQUESTS', 'TOKENS', 'ROUTING'];
  return formatTable(headers, rows);
}

/** `keys show`: every field of a key (its prefix only, never a secret). */
export function formatKeyDetails(k: KeyView): string {
  return formatFields([
    ['id', k.id], ['name', k.name], ['prefix', `${k.prefix}…`], ['status', k.status],
    ['image', formatSwitch(k.imageEnabled)], ['quota tokens', formatLimit(k.quotaTokens)],
    ['max concurrency', formatLimit(k.maxConcurrency)], ['min interval ms', formatLimit(k.minStartIntervalMs)],
    ['routing', formatRouting(k.routing)], ['requests', String(k.usage.requests)],
    ['successes', String(k.usage.successes)], ['images', String(k.usage.images)],
    ['tokens', `${k.usage.totalTokens} (in ${k.usage.inputTokens}, out ${k.usage.outputTokens})`],
    ['usage missing', String(k.usage.usageMissing)], ['last used', formatTime(k.usage.lastUsedAt)],
    ['created', formatTime(k.createdAt)], ['updated', formatTime(k.updatedAt)],
  ]);
}

/** `keys create`: the only output that ever holds a key secret. */
export function formatCreatedKey(k: KeyView, secret: string): string {
  return `created key ${k.name} (${k.id}); its secret, shown only now:\n${secret}`;
}

/** The `accounts list` table. */
export function formatAccountTable(accounts: readonly AccountView[]): string {
  const rows = accounts.map((a) => [
    a.name, a.status, formatSwitch(a.imageEnabled), String(a.imageConcurrency), a.planType ?? '-',
    a.email ?? '-', a.proxy ?? 'direct', formatTime(a.accessTokenExpiresAt), a.lastError ?? '-',
  ]);
  const headers = ['NAME', 'STATUS', 'IMAGE', 'CONCURRENCY', 'PLAN', 'EMAIL', 'PROXY', 'TOKEN_EXPIRES', 'LAST_ERROR'];
  return formatTable(headers, rows);
}

/** `accounts show`: every field of an account (never a token; the proxy password is masked by the service). */
export function formatAccountDetails(a: AccountView): string {
  return formatFields([
    ['id', a.id], ['name', a.name], ['status', a.status], ['image', formatSwitch(a.imageEnabled)],
    ['image concurrency', String(a.imageConcurrency)], ['proxy', a.proxy ?? 'direct'], ['plan', a.planType ?? '-'],
    ['email', a.email ?? '-'], ['chatgpt account id', a.chatgptAccountId ?? '-'],
    ['token expires', formatTime(a.accessTokenExpiresAt)], ['refresh token', a.hasRefreshToken ? 'yes' : 'no'],
    ['last refresh', formatTime(a.lastRefreshAt)], ['last error', a.lastError ?? '-'],
    ['created', formatTime(a.createdAt)], ['updated', formatTime(a.updatedAt)],
  ]);
}

/** `accounts import`: one summary line. */
export function formatImportedAccount(a: AccountView): string {
  const plan = a.planType ?? 'unknown plan';
  return `imported account ${a.name} (${plan}, token expires ${formatTime(a.accessTokenExpiresAt)}, image ${formatSwitch(a.imageEnabled)})`;
}

/** The `groups list` table. */
export function formatGroupTable(groups: readonly GroupView[]): string {
  return formatTable(['ID', 'NAME', 'ACCOUNTS'], groups.map((g) => [g.id, g.name, g.accounts.join(', ') || '-']));
}

/** `groups show`. */
export function formatGroupDetails(g: GroupView): string {
  return formatFields([
    ['id', g.id], ['name', g.name], ['accounts', g.accounts.join(', ') || '-'],
    ['created', formatTime(g.createdAt)], ['updated', formatTime(g.updatedAt)],
  ]);
}

/** The `models list` table. */
export function formatModelAliasTable(rows: readonly ModelAliasView[]): string {
  return formatTable(['ALIAS', 'UPSTREAM_MODEL', 'KIND'], rows.map((r) => [r.alias, r.upstreamModel, r.pattern ? 'prefix' : 'exact']));
}
