/** Small shared pieces of the console: data loading, messages, confirmation, formatting. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { buildLimitMessage, formatLimitRange, isWithinLimit, type FieldLimit } from '../../src/config/field-limits.js';
import { describeError } from './api.js';
import type { Sources } from './types.js';

/** Loaded data, the last error, and a way to load again. */
export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => Promise<void>;
}

/** Loads `load()` now, again on `reload()`, and every `pollMs` when given. */
export function useLoad<T>(load: () => Promise<T>, pollMs: number | null = null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, [load]);
  useEffect(() => {
    void reload();
    if (pollMs === null) return undefined;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { data, error, reload };
}

/** The current time, updated every `everyMs` (countdowns). */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** An error (role=alert, read out by screen readers) or nothing. */
export function ErrorNote({ message }: { message: string | null }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

/**
 * Which data planes Activity/Overview were read from: why they are empty when there is none (no
 * live data plane in the instance registry, and no GATEWAY_STATUS_URLS), and which did not answer.
 */
export function SourcesNote({ read }: { read: Sources | null }) {
  if (read === null) return null;
  if (read.sources === 0) {
    return (
      <p class="notice" role="status">
        No data plane to read from: no live <code>serve</code> or <code>start</code> process that has a status endpoint (it needs this <code>ADMIN_TOKEN</code>)
        is in the instance registry (see Instances), and <code>GATEWAY_STATUS_URLS</code> is not set.
      </p>
    );
  }
  const down = read.gateways.filter((g) => !g.ok);
  return (
    <p class={down.length > 0 ? 'bad-text' : 'muted'} role="status" data-testid="sources-note">
      Read from {read.sources - down.length} of {read.sources} data plane{read.sources === 1 ? '' : 's'}
      {down.length > 0 ? `; no answer from ${down.map((g) => g.instance_id ?? g.gateway).join(', ')}` : ''}.
    </p>
  );
}

/** A success note or nothing. */
export function Notice({ message }: { message: string | null }) {
  return message ? (
    <p class="notice" role="status">
      {message}
    </p>
  ) : null;
}

/** A button that asks for a second click before it acts (deletes). */
export function ConfirmButton({ label, question, onConfirm }: { label: string; question: string; onConfirm: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    // biome-ignore lint/a11y/useSemanticElements: a fieldset's default box would break this inline row inside table cells
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A form's buttons: the submit (disabled while `busy`) and, when `onCancel` is given, Cancel. */
export function FormActions({ submitLabel, busy = false, onCancel }: { submitLabel: string; busy?: boolean; onCancel?: (() => void) | undefined }) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={busy}>
        {submitLabel}
      </button>
      {onCancel ? (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      ) : null}
    </div>
  );
}

/** A labelled form field (label wraps the control, so clicking the text focuses it). */
export function Field({ label, hint, children }: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control arrives as `children`, which the rule cannot see
    <label class="field">
      <span class="field-label">
        {label}
        {hint ? <small> {hint}</small> : null}
      </span>
      {children}
    </label>
  );
}

/** A page section with a heading. */
export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <div class="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/**
 * An integer field's value within its FIELD_LIMITS entry (the server's own table, bundled).
 * @throws Error with the message the API would give, so the form can say it before sending.
 */
export function parseLimitedInt(raw: string, limit: FieldLimit): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !isWithinLimit(n, limit)) throw new Error(buildLimitMessage(limit.fields[0] ?? '', limit));
  return n;
}

/**
 * An optional integer field's value: empty → null (unlimited), else as parseLimitedInt.
 * @throws Error with the API's message, which also says that empty means unlimited.
 */
export function parseOptionalInt(raw: string, limit: FieldLimit): number | null {
  if (raw.trim() === '') return null;
  const n = Number(raw.trim());
  if (!isWithinLimit(n, limit)) throw new Error(`${buildLimitMessage(limit.fields[0] ?? '', limit)}, or empty for unlimited`);
  return n;
}

/** A form hint for a limited integer field: its range, and what empty means for a nullable one. */
export const describeLimitHint = (limit: FieldLimit): string => (limit.nullable ? `${formatLimitRange(limit)}, empty = unlimited` : formatLimitRange(limit));

/** A time as local date and time; `—` when absent. */
export const formatTime = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toLocaleString());

/** A short clock time (charts, activity). */
export const formatClock = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A duration such as `2h 05m`, `4m 10s`, `12s`; negative → `expired`. */
export function formatCountdown(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A count with thousands separators. */
export const formatCount = (n: number | null): string => (n === null ? '—' : n.toLocaleString());

/**
 * A table that scrolls sideways on narrow screens. The wrapper takes keyboard focus so the
 * scrolling is reachable without a mouse, and its label names it for screen readers.
 */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll from the keyboard
    <section class="table-wrap" tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}
