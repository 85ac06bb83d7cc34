import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, createGatewayMetrics } from '../../../src/observe/gateway-metrics.js';
import type { ImageEndpoint } from '../../../src/images/image-request.js';
import { MAX_ACCOUNT_LABELS } from '../../../src/observe/metric-labels.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** A strict reader of the Prometheus text format (0.0.4): every line is a comment or a sample. */
function parsePrometheusText(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus text line: ${line}`);
    const labels: Record<string, string> = {};
    const rawLabels = m[2] ?? '';
    for (const [, k, v] of rawLabels.matchAll(LABEL_PAIR)) labels[k!] = v!;
    if (rawLabels.replace(LABEL_PAIR, '').replace(/,/g, '') !== '') throw new Error(`bad labels: ${line}`);
    // Go's ParseFloat (what Prometheus uses) accepts NaN and ±Inf in any case.
    const special = /^(nan|[+-]?inf)$/i.test(m[3]!);
    const value = special ? Number(m[3]!.toLowerCase().replace('inf', 'Infinity').replace('nan', 'NaN')) : Number(m[3]);
    if (!special && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(m[3]!)) throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

async function render(metrics: ReturnType<typeof createGatewayMetrics>): Promise<Sample[]> {
  return parsePrometheusText((await metrics.render()).body);
}

describe('createGatewayMetrics', () => {
  it('renders Prometheus text with every gateway metric name and process metrics', async () => {
    const metrics = createGatewayMetrics();
    metrics.requests.inc({ endpoint: 'generations', status: 200, errorClass: null });
    metrics.requestDuration.observe({ endpoint: 'edits' }, 75);
    metrics.upstreamTtfb.observe({ endpoint: 'edits' }, 70);
    metrics.failovers.inc({ reason: 'rate_limited' });
    metrics.limiterRejections.inc({ limiter: 'key' });
    metrics.accountInflight.inc('acct-a');
    metrics.upstreamResponses.inc({ status: 503 });
    metrics.imagesReturned.inc(2);
    metrics.responseBytes.inc(1234);
    metrics.queueWait.observe({ result: 'taken' }, 1.5);
    metrics.queuedRequests.set(3);
    metrics.coordinationMode.set('local');
    const { contentType, body } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheusText(body);
    const names = new Set(samples.map((s) => s.name));
    for (const name of Object.values(METRIC_NAMES)) {
      const histogram = name.endsWith('_seconds');
      expect(names.has(histogram ? `${name}_count` : name), name).toBe(true);
    }
    expect(names.has('process_cpu_user_seconds_total')).toBe(true);
    const modes = samples.filter((s) => s.name === METRIC_NAMES.coordinationMode).map((s) => [s.labels.mode, s.value]);
    expect(modes.sort()).toEqual([
      ['local', 1],
      ['shared', 0],
    ]);
    expect(find(samples, METRIC_NAMES.requests, { endpoint: 'generations', status: '200', error_class: 'none' })[0]?.value).toBe(1);
    expect(find(samples, METRIC_NAMES.upstreamResponses, { status_class: '5xx' })[0]?.value).toBe(1);
    expect(find(samples, METRIC_NAMES.accountInflight, { account: 'acct-a' })[0]?.value).toBe(1);
    expect(find(samples, METRIC_NAMES.imagesReturned)[0]?.value).toBe(2);
    expect(find(samples, METRIC_NAMES.queuedRequests)[0]?.value).toBe(3);
    expect(find(samples, `${METRIC_NAMES.queueWait}_sum`, { result: 'taken' })[0]?.value).toBe(1.5);
  });

  it('labels queue waits by a closed set of results only', async () => {
    const metrics = createGatewayMetrics();
    metrics.queueWait.observe({ result: 'timeout' }, 30);
    metrics.queueWait.observe({ result: 'made-up' as never }, 1);
    metrics.queueWait.observe({ result: 'taken' }, Number.NaN);
    const samples = find(await render(metrics), `${METRIC_NAMES.queueWait}_count`);
    expect(samples.map((s) => [s.labels.result, s.value])).toEqual([
      ['timeout', 1],
      ['aborted', 1],
    ]);
  });

  it('buckets request durations up to 600 s', async () => {
    const metrics = createGatewayMetrics();
    metrics.requestDuration.observe({ endpoint: 'generations' }, 250);
    const buckets = find(await render(metrics), `${METRIC_NAMES.requestDuration}_bucket`);
    const bounds = buckets.map((b) => b.labels.le);
    expect(bounds[0]).toBe('0.05');
    expect(bounds).toContain('600');
    expect(find(buckets, `${METRIC_NAMES.requestDuration}_bucket`, { le: '240' })[0]?.value).toBe(0);
    expect(find(buckets, `${METRIC_NAMES.requestDuration}_bucket`, { le: '300' })[0]?.value).toBe(1);
  });

  it('uses its own registry, not the global default', async () => {
    const a = createGatewayMetrics();
    const b = createGatewayMetrics();
    a.imagesReturned.inc(3);
    expect(find(await render(b), METRIC_NAMES.imagesReturned)[0]?.value).toBe(0);
    expect(globalRegistry.getSingleMetric(METRIC_NAMES.imagesReturned)).toBeUndefined();
  });
});

describe('bounded labels', () => {
  it.each([
    { errorClass: 'rate_limited', label: 'rate_limited' },
    { errorClass: 'key_rate_limited', label: 'key_rate_limited' },
    { errorClass: null, label: 'none' },
    { errorClass: 'Rate_Limited', label: 'other' },
    { errorClass: 'prompt: a secret scene', label: 'other' },
  ])('error class $errorClass → $label', async ({ errorClass, label }) => {
    const metrics = createGatewayMetrics();
    metrics.requests.inc({ endpoint: 'generations', status: 429, errorClass });
    metrics.failovers.inc({ reason: errorClass ?? 'none' });
    const samples = await render(metrics);
    expect(find(samples, METRIC_NAMES.requests).map((s) => s.labels.error_class)).toEqual([label]);
    expect(find(samples, METRIC_NAMES.failovers).map((s) => s.labels.reason)).toEqual([label]);
  });

  it.each([
    { status: 200, label: '200', cls: '2xx' },
    { status: 429, label: '429', cls: '4xx' },
    { status: 418, label: '4xx', cls: '4xx' },
    { status: 599, label: '5xx', cls: '5xx' },
    { status: 600, label: 'other', cls: 'other' },
    { status: 99, label: 'other', cls: 'other' },
    { status: 200.5, label: 'other', cls: 'other' },
  ])('status $status → status "$label", status_class "$cls"', async ({ status, label, cls }) => {
    const metrics = createGatewayMetrics();
    metrics.requests.inc({ endpoint: 'edits', status, errorClass: null });
    metrics.upstreamResponses.inc({ status });
    const samples = await render(metrics);
    expect(find(samples, METRIC_NAMES.requests).map((s) => s.labels.status)).toEqual([label]);
    expect(find(samples, METRIC_NAMES.upstreamResponses).map((s) => s.labels.status_class)).toEqual([cls]);
  });

  it('maps an endpoint outside the table to other', async () => {
    const metrics = createGatewayMetrics();
    metrics.requests.inc({ endpoint: '/v1/secret' as ImageEndpoint, status: 200, errorClass: null });
    expect(find(await render(metrics), METRIC_NAMES.requests).map((s) => s.labels.endpoint)).toEqual(['other']);
  });

  it('collapses account names beyond the bound into other, and forgets removed accounts', async () => {
    const metrics = createGatewayMetrics();
    for (let i = 0; i < MAX_ACCOUNT_LABELS + 5; i++) metrics.accountInflight.inc(`acct-${i}`);
    let series = find(await render(metrics), METRIC_NAMES.accountInflight);
    expect(series).toHaveLength(MAX_ACCOUNT_LABELS + 1);
    expect(find(series, METRIC_NAMES.accountInflight, { account: 'other' })[0]?.value).toBe(5);
    metrics.accountInflight.remove('acct-0');
    metrics.accountInflight.inc('acct-new');
    series = find(await render(metrics), METRIC_NAMES.accountInflight);
    expect(series.map((s) => s.labels.account)).toContain('acct-new');
    expect(series.map((s) => s.labels.account)).not.toContain('acct-0');
  });

  it('sets an account figure outright, ignoring impossible values', async () => {
    const metrics = createGatewayMetrics();
    metrics.accountInflight.set('acct-a', 3);
    metrics.accountInflight.set('acct-a', -1);
    metrics.accountInflight.set('acct-a', Number.NaN);
    expect(find(await render(metrics), METRIC_NAMES.accountInflight, { account: 'acct-a' })[0]?.value).toBe(3);
  });

  it('ignores negative and non-finite counter amounts', async () => {
    const metrics = createGatewayMetrics();
    metrics.responseBytes.inc(10);
    for (const bad of [-1, Number.NaN, Infinity]) metrics.responseBytes.inc(bad);
    expect(find(await render(metrics), METRIC_NAMES.responseBytes)[0]?.value).toBe(10);
  });
});
