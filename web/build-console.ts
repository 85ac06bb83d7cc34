/**
 * Builds the web console into web/dist: index.html plus assets/app.js and assets/app.css, bundled
 * and minified by esbuild (no CDN, no runtime fetch of anything but the admin API).
 * `npm run build:web` runs it (web/build.ts); the browser tests call it before starting a gateway.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const webDir = fileURLToPath(new URL('.', import.meta.url));
const distDir = `${webDir}dist`;

/**
 * Bundles the console; resolves when web/dist is complete. Builds into a scratch folder and swaps
 * it in, so a process starting meanwhile sees the old console or the new one, never half of one.
 */
export async function buildWebConsole(): Promise<void> {
  const outDir = `${distDir}.tmp-${process.pid}`;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(`${outDir}/assets`, { recursive: true });
  await build({
    entryPoints: { app: `${webDir}src/main.tsx` },
    outdir: `${outDir}/assets`,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(`${webDir}src/app.css`, `${outDir}/assets/app.css`);
  copyFileSync(`${webDir}src/index.html`, `${outDir}/index.html`);
  rmSync(distDir, { recursive: true, force: true });
  renameSync(outDir, distDir);
}
