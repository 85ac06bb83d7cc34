/** `npm run build:web`: bundles the console into web/dist. */
import { buildWebConsole } from './build-console.js';

await buildWebConsole();
