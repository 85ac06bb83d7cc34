import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build:web` writes the console (web/dist at the package root, from src/ or dist/). */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** The URL path the console lives under. */
export const CONSOLE_PATH = '/admin/';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
} as const satisfies Record<string, string>;

interface StaticFile {
  body: Buffer;
  type: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/**
 * Reads the built console into memory (a fixed set of files: no path from a request ever touches
 * the disk). Missing or unreadable (a rebuild under way) = empty: the console is off, the API is not.
 */
export function loadConsoleFiles(distDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(distDir, 'index.html'))) return files;
  try {
    for (const path of listFiles(distDir)) {
      const type = (CONTENT_TYPES as Record<string, string>)[extname(path)];
      if (type) files.set(relative(distDir, path).split(sep).join('/'), { body: readFileSync(path), type });
    }
  } catch {
    return new Map();
  }
  return files;
}

/**
 * Serves the web console: `/admin/` answers index.html and `/admin/assets/<file>` the bundled
 * assets; `/` and `/admin` redirect to `/admin/`. The files are read from `distDir` once, when this
 * registers, so a console rebuilt later is served after a restart.
 * Pages need no authentication: they hold no data; everything they show comes from the admin API.
 * When the console was not built, `/admin/` says how to build it (503).
 */
export function registerConsoleStatic(app: FastifyInstance, distDir: string = CONSOLE_DIST_DIR): void {
  const files = loadConsoleFiles(distDir);
  // The admin listener's root and `/admin` both lead to the console: an operator types the host and port.
  app.get('/', async (_req, reply) => reply.redirect(CONSOLE_PATH));
  app.get('/admin', async (_req, reply) => reply.redirect(CONSOLE_PATH));
  app.get('/admin/', async (_req, reply) => {
    const index = files.get('index.html');
    if (!index) return reply.code(503).type('text/plain; charset=utf-8').send('web console not built: run `npm run build:web`\n');
    return reply.type(index.type).send(index.body);
  });
  app.get<{ Params: { '*': string } }>('/admin/assets/*', async (req, reply) => {
    const file = files.get(`assets/${req.params['*']}`);
    if (!file) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    return reply.type(file.type).send(file.body);
  });
}
