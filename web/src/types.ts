/** Admin API shapes as the console reads them (snake_case, as on the wire). */

export type Routing = { mode: 'all' } | { mode: 'accounts'; accounts: string[] } | { mode: 'group'; group: string };

export interface KeyUsage {
  requests: number;
  successes: number;
  images: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  usage_missing: number;
  last_used_at: number | null;
}

export interface Key {
  id: string;
  name: string;
  prefix: string;
  status: 'active' | 'disabled';
  image_enabled: boolean;
  quota_tokens: number | null;
  max_concurrency: number | null;
  min_start_interval_ms: number | null;
  routing: Routing;
  usage: KeyUsage;
  created_at: number;
}

export interface Account {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  image_enabled: boolean;
  image_concurrency: number;
  proxy: string | null;
  plan_type: string | null;
  email: string | null;
  access_token_expires_at: number | null;
  has_refresh_token: boolean;
  last_refresh_at: number | null;
  last_error: string | null;
  needs_reimport: boolean;
}

export interface Cooldown {
  gateway: string;
  cause: string;
  until_ms: number;
  failures: number;
  capped: boolean;
}

export interface AccountHealth {
  id: string;
  in_flight: number;
  cooldowns: Cooldown[];
}

export interface Group {
  id: string;
  name: string;
  accounts: string[];
}

export interface Settings {
  codex_client_version: string;
  log_max_file_bytes: number;
  log_max_file_age_ms: number;
  log_max_files: number;
}

export interface LogEvent {
  ts: number;
  event: string;
  request_id: string;
  key_id: string;
  key_name: string;
  account_name: string | null;
  endpoint: string;
  model: string;
  size: string | null;
  quality: string | null;
  n: number;
  upstream_status: number;
  duration_ms: number;
  upstream_ttfb_ms: number | null;
  failover_count: number;
  error_class: string | null;
  response_image_count: number | null;
  usage_tokens: number | null;
}

export interface OverviewMinute {
  minute: number;
  requests: number;
  images: number;
  successes: number;
  failures: number;
  failures_by_class: Record<string, number>;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

export interface Overview {
  minutes: number;
  totals: { requests: number; images: number; successes: number; failures: number };
  accounts: Array<{ account: string; attempts: number; failures: number }>;
  series: OverviewMinute[];
}
