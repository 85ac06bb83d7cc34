/** The console's only network client: same-origin calls to the admin API with the session cookie. */

/** An error answered by the admin API, with its message (shown to the operator as is). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => {};

/** Called when the API says the session is gone (401): the app shows the sign-in form. */
export function setSignedOutHandler(handler: () => void): void {
  onSignedOut = handler;
}

async function readError(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { message?: string; param?: string | null } };
    return new ApiError(res.status, body.error?.message ?? `HTTP ${res.status}`, body.error?.param ?? null);
  } catch {
    return new ApiError(res.status, `HTTP ${res.status}`);
  }
}

async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && path.startsWith('/admin/api/')) {
    csrfToken = null;
    onSignedOut();
  }
  if (!res.ok) throw await readError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/**
 * The URL of an admin API path (relative to /admin/api). Links the browser follows itself, such as a
 * CSV download, use it: a GET needs only the session cookie, which the browser sends.
 */
export const buildApiUrl = (path: string): string => `/admin/api${path}`;

/** Admin API calls (paths relative to /admin/api). */
export const api = {
  get: <T>(path: string) => send<T>('GET', buildApiUrl(path)),
  post: <T>(path: string, body: unknown) => send<T>('POST', buildApiUrl(path), body),
  patch: <T>(path: string, body: unknown) => send<T>('PATCH', buildApiUrl(path), body),
  put: <T>(path: string, body: unknown) => send<T>('PUT', buildApiUrl(path), body),
  delete: (path: string) => send<void>('DELETE', buildApiUrl(path)),
};

type SessionAnswer = { signed_in: boolean; csrf_token: string };

/** Signs in with the admin token (sent once, in the body); the server sets the session cookie. */
export async function signIn(token: string): Promise<void> {
  csrfToken = (await send<SessionAnswer>('POST', '/admin/session', { token })).csrf_token;
}

/** True when the browser already holds a live session (and picks up its CSRF token). */
export async function resumeSession(): Promise<boolean> {
  try {
    csrfToken = (await send<SessionAnswer>('GET', '/admin/session')).csrf_token;
    return true;
  } catch {
    return false;
  }
}

/** Ends the session on the server and forgets the CSRF token. */
export async function signOut(): Promise<void> {
  try {
    await send<void>('POST', '/admin/session/logout', {});
  } finally {
    csrfToken = null;
  }
}

/** The message to show for any failure. */
export const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));
