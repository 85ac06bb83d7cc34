/** A held slot. `release()` is idempotent, so a `finally` that runs twice cannot free a slot twice. */
export interface Permit {
  release(): void;
}

/** Wraps a release function so that only the first call has an effect. */
export function createPermit(onRelease: () => void): Permit {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      onRelease();
    },
  };
}
