/** Charts drawn as inline SVG (no chart library): lines over time, stacked bars over time, horizontal bars, sparklines. */

/** One line of a chart. */
export interface Series {
  label: string;
  /** CSS class giving its colour (styles live in app.css: no inline styles under the CSP). */
  className: string;
  values: Array<number | null>;
}

const W = 600;
const H = 160;
/** Room for the axis labels; the left one fits a y maximum such as `5000 ms`. */
const PAD = { left: 56, right: 8, top: 8, bottom: 22 };

const niceMax = (max: number): number => {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max) ?? max;
};

function buildPath(values: Array<number | null>, x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** True when a point has no drawn neighbour (a path alone would not show it). */
const isIsolated = (values: Array<number | null>, i: number): boolean => (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null;

/** A chart's frame: the x axis, the top grid line, the y axis' top and zero, the first and last x labels. */
function ChartAxes({ top, labels }: { top: string; labels: readonly string[] }) {
  return (
    <>
      <line class="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
      <line class="grid" x1={PAD.left} y1={PAD.top} x2={W - PAD.right} y2={PAD.top} />
      <text class="tick" x={PAD.left - 4} y={PAD.top + 8} text-anchor="end">
        {top}
      </text>
      <text class="tick" x={PAD.left - 4} y={H - PAD.bottom} text-anchor="end">
        0
      </text>
      <text class="tick" x={PAD.left} y={H - 6}>
        {labels[0] ?? ''}
      </text>
      <text class="tick" x={W - PAD.right} y={H - 6} text-anchor="end">
        {labels.at(-1) ?? ''}
      </text>
    </>
  );
}

/** A line chart over `labels` (x axis) with a legend; `unit` is appended to the y-axis maximum. */
export function LineChart({
  title,
  labels,
  series,
  unit = '',
  fixedMax,
}: {
  title: string;
  labels: string[];
  series: Series[];
  unit?: string;
  fixedMax?: number;
}) {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = fixedMax ?? niceMax(Math.max(0, ...all));
  const n = Math.max(labels.length - 1, 1);
  const x = (i: number) => PAD.left + (i / n) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const summary = series.map((s) => `${s.label}: latest ${s.values.at(-1) ?? 'none'}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`} preserveAspectRatio="none">
        <ChartAxes top={`${max}${unit}`} labels={labels} />
        {series.map((s) => (
          <path class={`line ${s.className}`} d={buildPath(s.values, x, y)} />
        ))}
        {series.flatMap((s) =>
          s.values.map((v, i) => (v !== null && isIsolated(s.values, i) ? <circle class={`dot ${s.className}`} cx={x(i)} cy={y(v)} r={3} /> : null)),
        )}
      </svg>
      <ul class="legend">
        {series.map((s) => (
          <li>
            <span class={`swatch ${s.className}`} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}

/** Horizontal bars (label, value) with the value written next to each bar. */
export function BarList({ title, rows, empty }: { title: string; rows: Array<{ label: string; value: number; note?: string }>; empty: string }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 22;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {rows.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <svg viewBox={`0 0 ${W} ${rows.length * rowH}`} role="img" aria-label={`${title}. ${rows.map((r) => `${r.label}: ${r.value}`).join('; ')}`}>
          {rows.map((r, i) => (
            <g>
              <text class="tick" x={0} y={i * rowH + 15}>
                {r.label.length > 18 ? `${r.label.slice(0, 17)}…` : r.label}
              </text>
              <rect class="bar" x={150} y={i * rowH + 4} height={14} width={Math.max(1, (r.value / max) * (W - 260))} />
              <text class="tick" x={150 + (r.value / max) * (W - 260) + 6} y={i * rowH + 15}>{`${r.value}${r.note ?? ''}`}</text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}

/** One group of a stacked bar chart: its values per bucket and their total (shown in the legend). */
export interface Stack extends Series {
  values: number[];
  total: number;
}

/**
 * Stacked bars over `labels` (x axis): one bar per bucket, one segment per stack, the first stack at
 * the bottom. The legend and the accessible name give each stack's total over the range.
 */
export function StackedBarChart({ title, labels, stacks, empty }: { title: string; labels: string[]; stacks: Stack[]; empty: string }) {
  const sums = labels.map((_, i) => stacks.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...sums));
  const band = (W - PAD.left - PAD.right) / Math.max(labels.length, 1);
  const barW = Math.max(1, band * 0.8);
  const scale = (v: number) => (v / max) * (H - PAD.top - PAD.bottom);
  const segments = labels.flatMap((_, i) => {
    let base = H - PAD.bottom;
    return stacks.map((s) => {
      const h = scale(s.values[i] ?? 0);
      base -= h;
      return h > 0 ? <rect class={`seg ${s.className}`} x={PAD.left + i * band + (band - barW) / 2} y={base} width={barW} height={h} /> : null;
    });
  });
  const summary = stacks.map((s) => `${s.label}: ${s.total}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {stacks.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`} preserveAspectRatio="none">
          <ChartAxes top={String(max)} labels={labels} />
          {segments}
        </svg>
      )}
      <ul class="legend">
        {stacks.map((s) => (
          <li>
            <span class={`swatch ${s.className}`} aria-hidden="true" />
            {s.label} ({s.total.toLocaleString()})
          </li>
        ))}
      </ul>
    </figure>
  );
}

const SPARK_W = 120;
const SPARK_H = 28;

/** A small line of values (no axes) beside a list row's facts; `label` is its accessible name. */
export function Sparkline({ label, values }: { label: string; values: number[] }) {
  const max = Math.max(1, ...values);
  const n = Math.max(values.length - 1, 1);
  const points = values.map((v, i) => `${((i / n) * SPARK_W).toFixed(1)},${(SPARK_H - 2 - (v / max) * (SPARK_H - 4)).toFixed(1)}`).join(' ');
  return (
    <svg class="sparkline" viewBox={`0 0 ${SPARK_W} ${SPARK_H}`} role="img" aria-label={label} preserveAspectRatio="none">
      <polyline class="spark-line" points={points} />
    </svg>
  );
}
