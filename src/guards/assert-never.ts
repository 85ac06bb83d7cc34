/**
 * Compile-time exhaustiveness check: a `switch` over a union calls this in `default`, so adding a
 * variant without a case breaks the build. At run time it names a string variant only, never an
 * object's content (a variant may hold image data or a token).
 */
export function assertNever(value: never): never {
  const unexpected: unknown = value;
  throw new Error(`unexpected variant: ${typeof unexpected === 'string' ? unexpected : typeof unexpected}`);
}
