/**
 * Writes deploy/gateway.env.example from the settings table (src/config/fields.ts), so the example can
 * never miss a setting or show a stale default. Run after changing a setting:
 *   npx tsx deploy/build-env-example.ts
 * test/deploy/env-example.test.ts fails when the file and this output differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_FIELDS, type ConfigField } from '../src/config/fields.js';

/** Where the example lives (next to this script). */
export const ENV_EXAMPLE_PATH = fileURLToPath(new URL('./gateway.env.example', import.meta.url));

/**
 * Values the systemd deployment sets instead of the defaults, and why. The paths match the units'
 * StateDirectory/LogsDirectory; the master key is named explicitly because both planes share the database.
 */
export const DEPLOY_VALUES = {
  DATABASE_URL: { value: 'postgres://codex_image_gateway:CHANGE_ME@127.0.0.1:5432/codex_image_gateway', why: '`serve` runs on Postgres only' },
  CODEX_IMAGE_GATEWAY_DATA_DIR: { value: '/var/lib/codex-image-gateway', why: "the units' StateDirectory" },
  CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE: { value: '/etc/codex-image-gateway/master.key', why: 'the same key for both planes (see docs/operations.md)' },
  CODEX_IMAGE_LOG_DIR: { value: '/var/log/codex-image-gateway/requests', why: "under the units' LogsDirectory" },
  TRUSTED_PROXIES: { value: '127.0.0.1,::1', why: 'Caddy on the same host passes the client address' },
} as const satisfies Record<string, { value: string; why: string }>;

const HEADER = `# Codex Image Gateway: the environment of both systemd units (codex-image-gateway.service and
# codex-image-gateway-control.service). Install as /etc/codex-image-gateway/gateway.env,
# owner root, group codex-image-gateway, mode 0640: it holds the database password.
#
# Every setting is listed with its default. A commented line keeps the default; the lines that are
# set are the ones the systemd deployment needs. Values are plain KEY=value (systemd
# EnvironmentFile syntax: no \`export\`, no shell expansion).
#
# Generated from src/config/fields.ts by deploy/build-env-example.ts: change the table, then rerun it.
`;

/** A default as the environment variable would spell it (lists comma-joined, unset as empty). */
export function formatEnvDefault(value: ConfigField['default']): string {
  if (value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function describeDefault(field: ConfigField): string {
  const shown = formatEnvDefault(field.default);
  return shown === '' ? 'unset' : shown;
}

function buildEntry(field: ConfigField): string {
  const lines = [`# ${field.doc}`, `# default: ${describeDefault(field)}${field.flag ? ` (flag ${field.flag})` : ''}`];
  const deployed = Object.hasOwn(DEPLOY_VALUES, field.env) ? DEPLOY_VALUES[field.env as keyof typeof DEPLOY_VALUES] : undefined;
  if (deployed) return [...lines, `# set for systemd: ${deployed.why}`, `${field.env}=${deployed.value}`].join('\n');
  return [...lines, `#${field.env}=${formatEnvDefault(field.default)}`].join('\n');
}

/** The whole example file: a header, then one commented block per setting in table order. */
export function buildEnvExample(fields: Readonly<Record<string, ConfigField>> = CONFIG_FIELDS): string {
  return `${HEADER}\n${Object.values(fields).map(buildEntry).join('\n\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ENV_EXAMPLE_PATH, buildEnvExample());
  process.stdout.write(`wrote ${ENV_EXAMPLE_PATH}\n`);
}
