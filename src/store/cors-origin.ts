/** The one entry of `cors_allowed_origins` that allows every origin; valid only as the sole entry. */
export const CORS_ANY_ORIGIN = '*';

/**
 * What an entry may look like before it is parsed: `http` or `https`, `://`, a host with an optional
 * port (no user info, no wildcard, no whitespace, no backslash), and at most one trailing `/`.
 * Paths, queries and fragments are refused, since a browser's `Origin` never carries them.
 */
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\s*\\]+\/?$/i;

/**
 * Parses one allowed-origin entry into the exact form a browser sends in `Origin`: scheme and host
 * lower-cased, IDN hosts in punycode, the default port dropped, no trailing slash
 * (`HTTPS://App.Example.com:443/` → `https://app.example.com`). Returns null when the entry is not
 * an http(s) origin. `*` is not an origin here: the list rule handles it.
 */
export function parseCorsOrigin(entry: string): string | null {
  const text = entry.trim();
  if (!ORIGIN_SHAPE.test(text)) return null;
  try {
    return new URL(text).origin;
  } catch {
    return null;
  }
}
