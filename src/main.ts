import { buildProgram } from './cli/program.js';
import { formatErrorLine } from './cli/print.js';

// The process entry, nothing else: commands live in src/cli. Every failure ends as one line and exit code 1.
try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${formatErrorLine(err)}\n`);
  process.exitCode = 1;
}
