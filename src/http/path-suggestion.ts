import type { FastifyInstance } from 'fastify';

/** The base a client most often forgets: `POST /images/generations` means `/v1/images/generations`. */
const MISSING_BASE = '/v1';

/** A route pattern (`/v1/images/jobs/:id`) as a regular expression over a request path. */
function patternToRegExp(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}

/**
 * Watches the routes `app` registers from now on (an onRoute hook, so call it before the routes)
 * and returns a function that, for a path the app has no route for, suggests the same path under
 * `/v1` when that one exists; else null. Only the path is looked at: the query string never
 * reaches the suggestion (nor the message it goes into).
 */
export function trackRoutePaths(app: FastifyInstance): (url: string) => string | null {
  const patterns: RegExp[] = [];
  app.addHook('onRoute', (route) => {
    patterns.push(patternToRegExp(route.url));
  });
  return (url) => {
    const path = url.split('?')[0] ?? '';
    if (!path.startsWith('/') || path.startsWith(`${MISSING_BASE}/`)) return null;
    const candidate = `${MISSING_BASE}${path}`;
    return patterns.some((pattern) => pattern.test(candidate)) ? candidate : null;
  };
}
