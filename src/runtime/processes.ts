import { hostname } from 'node:os';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildAdminApp } from '../admin/admin-app.js';
import { CONSOLE_PATH, registerConsoleStatic } from '../admin/console-static.js';
import { ConfigError, parseListenAddress, type Config } from '../config/config.js';
import { type ControlServicesDeps, createControlServices } from '../control/control-services.js';
import { removeInstanceFile, writeInstanceFile } from '../control/instance-file.js';
import { resolveMasterKeyInUse, verifyMasterKey, type MasterKeyInUse } from '../control/master-key-gate.js';
import { CONFIG_FIELDS } from '../config/fields.js';
import { createAppLogger, errorSummary } from '../observe/app-logger.js';
import type { Db } from '../store/db.js';
import { migrate, verifySchema } from '../store/migrator.js';
import { resolveAdminToken } from './admin-token.js';
import { createDataPlane } from './data-plane.js';
import { closeWithGrace, watchConnections } from './graceful-close.js';
import { addressInUseError, assertAddressesFree, isAddressInUse, type ListenKey } from './listen-check.js';
import { openDatabase } from './open-database.js';
import { PACKAGE_VERSION } from './package-version.js';
import { startRefreshWorker } from './refresh-worker.js';
import { createShutdownStack, type ShutdownStack } from './shutdown-steps.js';
import { combineStatusReaders, createLocalStatusReader, createRemoteStatusReader, type GatewayStatusReader } from '../control/gateway-status.js';
import { resolveStatusTargets } from '../control/status-targets.js';
import type { InstanceRole } from '../store/instance-repo.js';
import { resolveAdvertisedUrl } from './advertised-url.js';
import { startInstanceHeartbeat, type InstanceHeartbeat } from './instance-heartbeat.js';

/** A running process: its public addresses and how to stop it gracefully. */
export interface RunningProcess {
  gatewayUrl: string | null;
  adminUrl: string | null;
  stop(): Promise<void>;
}

async function listenOn(app: FastifyInstance, key: ListenKey, address: string): Promise<string> {
  const { host, port } = parseListenAddress(CONFIG_FIELDS[key].flag, address);
  watchConnections(app.server);
  await app.listen({ host, port }).catch((err: unknown) => {
    throw isAddressInUse(err) ? addressInUseError(key, address) : err;
  });
  const bound = app.server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
}

/**
 * The process's master key, refused before anything listens when it cannot open this database's
 * credentials (verifyMasterKey); a `writer` stores the key check on first use.
 */
async function resolveVerifiedMasterKey(db: Db, config: Config, writer: boolean): Promise<MasterKeyInUse> {
  const key = await resolveMasterKeyInUse(config, writer);
  await verifyMasterKey(db, key, { writer });
  return key;
}

/** Undoes a start-up that failed; its error is the one to report (a failed step is logged by the stack). */
async function abandonStart(stops: ShutdownStack): Promise<void> {
  await stops.run().catch(() => undefined);
}

/**
 * Starts this process's instance-registry heartbeat and schedules its stop mark. Pushed right after
 * the database, so it stops after everything else: a data plane draining its async jobs still beats,
 * and no other instance takes those jobs for lost.
 */
async function joinRegistry(opts: { db: Db; config: Config; role: InstanceRole; stops: ShutdownStack; logger: FastifyBaseLogger }): Promise<InstanceHeartbeat> {
  const { db, config, role, stops, logger } = opts;
  // A data plane beats at least as often as it sweeps jobs, so JOB_INSTANCE_TIMEOUT_MS never finds it silent.
  const heartbeatMs = role === 'control' ? config.instanceHeartbeatMs : Math.min(config.instanceHeartbeatMs, config.jobHeartbeatMs);
  const heartbeat = await startInstanceHeartbeat({
    db,
    role,
    heartbeatMs,
    onError: (err) => logger.warn({ err: errorSummary(err) }, 'instance heartbeat failed; will retry'),
  });
  stops.push(() => heartbeat.stop());
  return heartbeat;
}

/** Where other processes reach this data plane's GET /status; null when it has none (no admin token). */
const resolveStatusUrl = (config: Config, gatewayUrl: string, statusToken: string | null): string | null =>
  statusToken ? resolveAdvertisedUrl(config.advertiseUrl, gatewayUrl, hostname()) : null;

/** The admin API with the console, as `start` and `control` serve it. */
function buildControlPlaneApp(
  opts: { adminToken: string; logger: FastifyBaseLogger; gatewayStatus: GatewayStatusReader } & ControlServicesDeps,
): FastifyInstance {
  return buildAdminApp({
    control: createControlServices({ db: opts.db, cipher: opts.cipher, audit: opts.logger }),
    adminToken: opts.adminToken,
    logger: opts.logger,
    gatewayStatus: opts.gatewayStatus,
    extend: registerConsoleStatic,
  });
}

/** `start`: both planes in one process, on Postgres when configured, else embedded PGlite. Applies migrations. */
export async function runStart(config: Config, logger: FastifyBaseLogger = createAppLogger(config.logLevel)): Promise<RunningProcess> {
  await assertAddressesFree([
    ['listen', config.listen],
    ['adminListen', config.adminListen],
  ]);
  const opened = await openDatabase(config, (err) => logger.warn({ err: errorSummary(err) }, 'database connection error'));
  // Undone in reverse: instance file, admin app, refresh worker, data plane, and the database last.
  const stops = createShutdownStack(logger, 'start');
  stops.push(() => opened.close());
  try {
    if (opened.created === 'template') logger.info({ dataDir: config.dataDir }, 'created the embedded database from the shipped template');
    if (opened.created === 'initdb') {
      logger.warn(
        { dataDir: config.dataDir },
        'created the embedded database with initdb: no shipped template matches the installed PGlite (slower, and uses more memory until restart)',
      );
    }
    const applied = await migrate(opened.db);
    if (applied.length > 0) logger.info({ applied }, 'applied migrations');
    const { cipher } = await resolveVerifiedMasterKey(opened.db, config, true);
    const admin = await resolveAdminToken(config.adminToken, config.dataDir);
    const heartbeat = await joinRegistry({ db: opened.db, config, role: 'start', stops, logger });
    const dataPlane = await createDataPlane({ config, db: opened.db, cipher, logger, statusToken: admin.token, instanceId: heartbeat.id });
    stops.push(() => dataPlane.close());
    const refreshWorker = await startRefreshWorker(config, opened.db, cipher, logger);
    stops.push(() => refreshWorker.close());
    const gatewayStatus = combineStatusReaders([
      createLocalStatusReader(dataPlane.status, heartbeat.id),
      createRemoteStatusReader({
        targets: resolveStatusTargets({ configuredUrls: config.gatewayStatusUrls, db: opened.db, selfId: heartbeat.id }),
        adminToken: admin.token,
      }),
    ]);
    const adminApp = buildControlPlaneApp({ db: opened.db, cipher, adminToken: admin.token, logger, gatewayStatus });
    stops.push(() => closeWithGrace(adminApp, config.shutdownGraceMs));
    const gatewayUrl = await listenOn(dataPlane.app, 'listen', config.listen);
    const adminUrl = await listenOn(adminApp, 'adminListen', config.adminListen);
    await heartbeat.publish({ listenUrl: gatewayUrl, adminUrl, statusUrl: resolveStatusUrl(config, gatewayUrl, admin.token) });
    await writeInstanceFile(config.dataDir, { pid: process.pid, gatewayUrl, adminUrl, startedAt: Date.now(), version: PACKAGE_VERSION });
    stops.push(() => removeInstanceFile(config.dataDir));
    logger.info(
      { gatewayUrl, adminUrl, consoleUrl: `${adminUrl}${CONSOLE_PATH}`, adminTokenFile: admin.file, database: opened.db.kind },
      'codex-image-gateway started',
    );
    return { gatewayUrl, adminUrl, stop: stops.run };
  } catch (err) {
    await abandonStart(stops);
    throw err;
  }
}

/** `serve`: the data plane alone, on Postgres. Never migrates; refuses an out-of-date schema. */
export async function runServe(config: Config, logger: FastifyBaseLogger = createAppLogger(config.logLevel)): Promise<RunningProcess> {
  if (!config.databaseUrl) {
    throw new ConfigError('serve needs a Postgres database: set DATABASE_URL or --database-url (the embedded database is only for `start`)');
  }
  await assertAddressesFree([['listen', config.listen]]);
  const opened = await openDatabase(config, (err) => logger.warn({ err: errorSummary(err) }, 'database connection error'));
  const stops = createShutdownStack(logger, 'serve');
  stops.push(() => opened.close());
  try {
    await verifySchema(opened.db);
    const { cipher } = await resolveVerifiedMasterKey(opened.db, config, false);
    const heartbeat = await joinRegistry({ db: opened.db, config, role: 'serve', stops, logger });
    const dataPlane = await createDataPlane({ config, db: opened.db, cipher, logger, statusToken: config.adminToken, instanceId: heartbeat.id });
    stops.push(() => dataPlane.close());
    const gatewayUrl = await listenOn(dataPlane.app, 'listen', config.listen);
    await heartbeat.publish({ listenUrl: gatewayUrl, adminUrl: null, statusUrl: resolveStatusUrl(config, gatewayUrl, config.adminToken) });
    logger.info({ gatewayUrl, statusEndpoint: config.adminToken !== null }, 'codex-image-gateway data plane started');
    return { gatewayUrl, adminUrl: null, stop: stops.run };
  } catch (err) {
    await abandonStart(stops);
    throw err;
  }
}

/** `control`: the admin API alone; `--migrate` applies migrations first, else the schema must be current. */
export async function runControl(
  config: Config,
  opts: { migrate: boolean },
  logger: FastifyBaseLogger = createAppLogger(config.logLevel),
): Promise<RunningProcess> {
  await assertAddressesFree([['adminListen', config.adminListen]]);
  const opened = await openDatabase(config, (err) => logger.warn({ err: errorSummary(err) }, 'database connection error'));
  const stops = createShutdownStack(logger, 'control');
  stops.push(() => opened.close());
  try {
    if (opts.migrate) await migrate(opened.db);
    else await verifySchema(opened.db);
    const { cipher } = await resolveVerifiedMasterKey(opened.db, config, true);
    const admin = await resolveAdminToken(config.adminToken, config.dataDir);
    const heartbeat = await joinRegistry({ db: opened.db, config, role: 'control', stops, logger });
    const gatewayStatus = createRemoteStatusReader({
      targets: resolveStatusTargets({ configuredUrls: config.gatewayStatusUrls, db: opened.db, selfId: heartbeat.id }),
      adminToken: admin.token,
    });
    const adminApp = buildControlPlaneApp({ db: opened.db, cipher, adminToken: admin.token, logger, gatewayStatus });
    stops.push(() => closeWithGrace(adminApp, config.shutdownGraceMs));
    const adminUrl = await listenOn(adminApp, 'adminListen', config.adminListen);
    await heartbeat.publish({ listenUrl: null, adminUrl, statusUrl: null });
    const refreshWorker = await startRefreshWorker(config, opened.db, cipher, logger);
    stops.push(() => refreshWorker.close());
    logger.info({ adminUrl, consoleUrl: `${adminUrl}${CONSOLE_PATH}`, adminTokenFile: admin.file }, 'codex-image-gateway control plane started');
    return { gatewayUrl: null, adminUrl, stop: stops.run };
  } catch (err) {
    await abandonStart(stops);
    throw err;
  }
}
