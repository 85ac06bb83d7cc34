/** Compile-time exhaustiveness check: a `switch` over a union calls this in `default`. */
export function assertNever(value: never): never {
  throw new Error(`unexpected variant: ${JSON.stringify(value)}`);
}
