/**
 * Every configuration setting, its environment variable, its command-line flag and its default: the one
 * place each default lives. `loadConfig` derives the typed config from this table; the CLI derives its
 * flags from it; a test checks that README.md documents every row.
 */
export type FieldKind = 'string' | 'int' | 'bool' | 'list';

export interface ConfigField {
  env: string;
  flag?: string;
  kind: FieldKind;
  default: string | number | boolean | readonly string[] | null;
  /** For a `string`: the only values accepted (the config type is their union). */
  values?: readonly string[];
  min?: number;
  max?: number;
  doc: string;
}

const MiB = 1024 * 1024;

export const CONFIG_FIELDS = {
  databaseUrl: {
    env: 'DATABASE_URL',
    flag: '--database-url',
    kind: 'string',
    default: null,
    doc: 'Postgres URL; when unset `start` uses embedded PGlite in the data directory',
  },
  dataDir: {
    env: 'CODEX_IMAGE_GATEWAY_DATA_DIR',
    flag: '--data-dir',
    kind: 'string',
    default: './data',
    doc: 'embedded database, admin token, master key, instance.json, request logs, usage journal (`serve` writes its usage journal and, by default, its request log here too)',
  },
  listen: {
    env: 'GATEWAY_LISTEN',
    flag: '--listen',
    kind: 'string',
    default: '127.0.0.1:19082',
    doc: 'public image API address (HOST:PORT; port 0 = ephemeral)',
  },
  adminListen: { env: 'ADMIN_LISTEN', flag: '--admin-listen', kind: 'string', default: '127.0.0.1:19083', doc: 'admin API address' },
  adminToken: {
    env: 'ADMIN_TOKEN',
    kind: 'string',
    default: null,
    doc: 'admin bearer token; `start` and `control` create `<data-dir>/admin-token` when unset',
  },
  masterKey: {
    env: 'CODEX_IMAGE_GATEWAY_MASTER_KEY',
    kind: 'string',
    default: null,
    doc: '32-byte key (hex or base64) that encrypts account credentials; embedded default `<data-dir>/master.key`; required (or the file) with `DATABASE_URL`',
  },
  masterKeyFile: {
    env: 'CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE',
    flag: '--master-key-file',
    kind: 'string',
    default: null,
    doc: 'file holding the master key (created with mode 0600 if missing by `start`/`control`; `serve` and the CLI require it to exist)',
  },
  upstreamBaseUrl: { env: 'CODEX_UPSTREAM_BASE_URL', kind: 'string', default: 'https://chatgpt.com/backend-api/codex', doc: 'Codex backend base URL' },
  logDir: {
    env: 'CODEX_IMAGE_LOG_DIR',
    flag: '--log-dir',
    kind: 'string',
    default: null,
    doc: 'request-log directory (default `<data-dir>/logs`); one process per directory',
  },
  logLevel: { env: 'LOG_LEVEL', kind: 'string', default: 'info', doc: 'app log level (pino)' },
  allowedModels: {
    env: 'ALLOWED_MODELS',
    kind: 'list',
    default: ['gpt-image-2'],
    doc: 'comma-separated upstream models served under their own name; the first is the default (no `model`, or an unknown one unless `model_aliases_strict`); other names reach the upstream through the model_aliases table',
  },
  maxInputImages: { env: 'MAX_INPUT_IMAGES', kind: 'int', default: 16, min: 1, max: 16, doc: 'most input images on an edit (OpenAI allows 16)' },
  maxJsonBodyBytes: { env: 'MAX_JSON_BODY_BYTES', kind: 'int', default: 48 * MiB, min: 1024, doc: 'largest JSON request body (413 past it)' },
  maxUploadFileBytes: { env: 'MAX_UPLOAD_FILE_BYTES', kind: 'int', default: 50 * MiB, min: 1024, doc: 'largest single multipart file (413 past it)' },
  maxUploadTotalBytes: { env: 'MAX_UPLOAD_TOTAL_BYTES', kind: 'int', default: 100 * MiB, min: 1024, doc: 'largest multipart body in total (413 past it)' },
  upstreamConnectTimeoutMs: { env: 'UPSTREAM_CONNECT_TIMEOUT_MS', kind: 'int', default: 10_000, min: 100, doc: 'TCP/TLS connect timeout to the upstream' },
  upstreamHeadersTimeoutMs: {
    env: 'UPSTREAM_HEADERS_TIMEOUT_MS',
    kind: 'int',
    default: 360_000,
    min: 100,
    doc: 'wait for upstream response headers (generation time)',
  },
  upstreamBodyTimeoutMs: { env: 'UPSTREAM_BODY_TIMEOUT_MS', kind: 'int', default: 120_000, min: 100, doc: 'longest silence while reading the upstream body' },
  upstreamAttemptTimeoutMs: {
    env: 'UPSTREAM_ATTEMPT_TIMEOUT_MS',
    kind: 'int',
    default: 600_000,
    min: 100,
    doc: 'whole attempt on one account, headers and body',
  },
  upstreamMaxResponseBytes: {
    env: 'UPSTREAM_MAX_RESPONSE_BYTES',
    kind: 'int',
    default: 150 * MiB,
    min: 1024,
    doc: 'largest upstream response, enforced while streaming',
  },
  allowFreePlanAccounts: {
    env: 'ALLOW_FREE_PLAN_ACCOUNTS',
    kind: 'bool',
    default: false,
    doc: 'route to accounts whose token says `chatgpt_plan_type: free` (they have no image tool)',
  },
  snapshotPollMs: {
    env: 'SNAPSHOT_POLL_MS',
    kind: 'int',
    default: 10_000,
    min: 200,
    doc: 'safety-net reload of control data (changes normally arrive by LISTEN/NOTIFY)',
  },
  usageFlushMs: { env: 'USAGE_FLUSH_MS', kind: 'int', default: 1_000, min: 10, doc: 'how often usage counters are written to the database' },
  usageHourlyRetentionDays: {
    env: 'USAGE_HOURLY_RETENTION_DAYS',
    kind: 'int',
    default: 35,
    min: 1,
    max: 3_650,
    doc: 'days the hourly usage rollups are kept; older ones are rolled into daily rows (whole UTC days)',
  },
  usageDailyRetentionDays: {
    env: 'USAGE_DAILY_RETENTION_DAYS',
    kind: 'int',
    default: 800,
    min: 1,
    max: 36_500,
    doc: 'days the daily usage rollups are kept, then deleted',
  },
  usageJournalSyncMs: {
    env: 'USAGE_JOURNAL_SYNC_MS',
    kind: 'int',
    default: 100,
    min: 1,
    max: 60_000,
    doc: "how often the usage journal (`<data-dir>/usage-journal`) is fsync'd, as one group commit for every increment appended since the last; a kill -9 loses no usage whatever this is, a power loss at most this long",
  },
  streamKeepaliveMs: {
    env: 'STREAM_KEEPALIVE_MS',
    kind: 'int',
    default: 15_000,
    min: 100,
    doc: 'with `stream: true`, an SSE comment line is sent after this long without output, so idle timeouts on the way do not cut a long generation',
  },
  admissionWaitMs: {
    env: 'ADMISSION_WAIT_MS',
    kind: 'int',
    default: 30_000,
    min: 0,
    max: 600_000,
    doc: "how long a request whose accounts are all at their `image_concurrency` cap waits in the key's fair queue for a slot before it gets 429 `accounts_busy` (0 = no wait: the 429 at once); a stream sends its keep-alive while it waits",
  },
  admissionQueueMaxPerKey: {
    env: 'ADMISSION_QUEUE_MAX_PER_KEY',
    kind: 'int',
    default: 64,
    min: 1,
    max: 4_096,
    doc: 'most requests of one key waiting for an account slot at once in one process (each holds its connection and its spooled uploads); past it 429 `admission_queue_full` at once',
  },
  jobMaxQueueMs: {
    env: 'JOB_MAX_QUEUE_MS',
    kind: 'int',
    default: 600_000,
    min: 1_000,
    doc: 'how long an async job may wait for a free account or key slot before it fails',
  },
  jobResultTtlMs: {
    env: 'JOB_RESULT_TTL_MS',
    kind: 'int',
    default: 3_600_000,
    min: 1_000,
    doc: "how long an async job's sealed result is kept after it ends (then it expires and is deleted)",
  },
  jobHeartbeatMs: {
    env: 'JOB_HEARTBEAT_MS',
    kind: 'int',
    default: 5_000,
    min: 100,
    doc: 'how often a data plane sweeps async jobs (ending those of lost instances) and looks for cancels from other instances',
  },
  jobInstanceTimeoutMs: {
    env: 'JOB_INSTANCE_TIMEOUT_MS',
    kind: 'int',
    default: 30_000,
    min: 500,
    doc: 'an instance silent this long has its open jobs ended `failed` (`instance_lost`)',
  },
  instanceHeartbeatMs: {
    env: 'INSTANCE_HEARTBEAT_MS',
    kind: 'int',
    default: 5_000,
    min: 100,
    doc: 'how often every `start`, `serve` and `control` process records in the instance registry that it is alive (a data plane beats at least every `JOB_HEARTBEAT_MS`); one silent for 3 periods is listed dead',
  },
  bodyReadTimeoutMs: {
    env: 'BODY_READ_TIMEOUT_MS',
    kind: 'int',
    default: 300_000,
    min: 100,
    doc: 'longest time a client may take to send its request body (a stalled upload is cut)',
  },
  maxConnections: {
    env: 'MAX_CONNECTIONS',
    kind: 'int',
    default: 0,
    min: 0,
    doc: 'most client connections one data-plane process holds open; past it a new connection gets a 503 `too_many_connections` and is closed (0 = no cap; for deployments without a reverse proxy in front)',
  },
  maxBodyBytesInFlight: {
    env: 'MAX_BODY_BYTES_IN_FLIGHT',
    kind: 'int',
    default: 256 * MiB,
    min: 0,
    doc: 'most request-body bytes one data-plane process reads at once: each image request is charged its `Content-Length` from before its body is read (a chunked body: its bytes as they arrive) until it is parsed; past it a 503 `body_budget_exhausted` (0 = no budget; a lone body is always admitted)',
  },
  shutdownGraceMs: { env: 'SHUTDOWN_GRACE_MS', kind: 'int', default: 600_000, min: 0, doc: 'on SIGTERM, how long in-flight generations may finish' },
  pgMaxConnections: { env: 'PG_MAX_CONNECTIONS', kind: 'int', default: 8, min: 1, max: 100, doc: 'Postgres pool size' },
  trustedProxies: {
    env: 'TRUSTED_PROXIES',
    kind: 'list',
    default: [],
    doc: 'comma-separated IPs/CIDRs of reverse proxies whose `X-Forwarded-For` is believed (empty = trust no proxy: the client is the socket peer)',
  },
  codexOauthTokenUrl: {
    env: 'CODEX_OAUTH_TOKEN_URL',
    kind: 'string',
    default: 'https://auth.openai.com/oauth/token',
    doc: 'OAuth token endpoint the control plane refreshes account tokens at',
  },
  tokenRefreshMarginMs: { env: 'TOKEN_REFRESH_MARGIN_MS', kind: 'int', default: 600_000, min: 0, doc: 'refresh an access token this long before its `exp`' },
  tokenRefreshScanMs: { env: 'TOKEN_REFRESH_SCAN_MS', kind: 'int', default: 60_000, min: 100, doc: 'how often the control plane looks for tokens to refresh' },
  rateLimitCooldownCapMs: {
    env: 'RATE_LIMIT_COOLDOWN_CAP_MS',
    kind: 'int',
    default: 3_600_000,
    min: 0,
    doc: 'longest an account sits out after a 429 with a reset hint or a 401; the first request after it re-probes (0 = no such pauses)',
  },
  failureBackoffBaseMs: {
    env: 'FAILURE_BACKOFF_BASE_MS',
    kind: 'int',
    default: 5_000,
    min: 0,
    doc: 'first pause of an account after a 5xx, timeout or network failure; doubles per consecutive failure (0 = no pause)',
  },
  failureBackoffMaxMs: { env: 'FAILURE_BACKOFF_MAX_MS', kind: 'int', default: 300_000, min: 0, doc: 'longest failure pause of an account' },
  redisUrl: {
    env: 'REDIS_URL',
    kind: 'string',
    default: null,
    doc: 'Redis 7 or Valkey URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS) shared by every `serve`/`start` process for account and key limits, last starts and account health; unset = each process keeps its own (nothing changes)',
  },
  redisKeyPrefix: {
    env: 'REDIS_KEY_PREFIX',
    kind: 'string',
    default: 'cig:',
    doc: 'prefix of every Redis key and channel the gateway uses, so several gateways can share one Redis; put a hash tag in it (`{cig}:`) on Redis Cluster so every key lands in one slot',
  },
  leaseTtlMs: {
    env: 'LEASE_TTL_MS',
    kind: 'int',
    default: 30_000,
    min: 300,
    doc: 'with `REDIS_URL`: a held account or key place lapses this long after its holder last renewed it (holders renew every third of it), so a killed process frees its places within it',
  },
  redisCommandTimeoutMs: {
    env: 'REDIS_COMMAND_TIMEOUT_MS',
    kind: 'int',
    default: 250,
    min: 10,
    doc: 'with `REDIS_URL`: longest wait for a Redis answer; past it the process switches to its local limits until Redis answers again, so a request never hangs on Redis',
  },
  resultUrlMode: {
    env: 'RESULT_URL_MODE',
    kind: 'string',
    default: 'data',
    values: ['data', 'hosted'],
    doc: '`response_format: url` answers: `data` = data URLs holding the image; `hosted` = short-lived URLs on this gateway (`PUBLIC_BASE_URL` required) serving the sealed image',
  },
  publicBaseUrl: {
    env: 'PUBLIC_BASE_URL',
    kind: 'string',
    default: null,
    doc: 'absolute http(s) URL of the public API as clients reach it (e.g. `https://images.example.com`); hosted result URLs start with it',
  },
  resultUrlTtlMs: {
    env: 'RESULT_URL_TTL_MS',
    kind: 'int',
    default: 3_600_000,
    min: 1_000,
    max: 604_800_000,
    doc: 'how long a hosted result URL serves its image (then 404 and deleted)',
  },
  gatewayStatusUrls: {
    env: 'GATEWAY_STATUS_URLS',
    kind: 'list',
    default: [],
    doc: 'comma-separated base URLs of the data planes whose `/status` (account state, Activity) the control plane reads, with the admin token; set, it replaces discovery through the instance registry (empty = every live data plane the registry lists)',
  },
  advertiseUrl: {
    env: 'ADVERTISE_URL',
    flag: '--advertise-url',
    kind: 'string',
    default: null,
    doc: "base URL at which control planes in other processes reach this data plane's `/status`, recorded in the instance registry (e.g. `http://10.0.0.5:19082`); unset = the listen address as bound, with a wildcard host (`0.0.0.0`, `::`) replaced by this machine's hostname",
  },
} as const satisfies Record<string, ConfigField>;

export type ConfigKey = keyof typeof CONFIG_FIELDS;
