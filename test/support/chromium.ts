/** Debian's Chromium, which the browser tests drive through playwright-core (no browser downloads here). */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a headless Chromium in a container: no sandbox, GPU, shared memory or background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];
