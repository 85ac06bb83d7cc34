import { Option, type Command } from 'commander';
import { FIELD_LIMITS, formatLimitRange } from '../config/field-limits.js';
import { buildWireView } from '../control/admin-wire.js';
import type { JobListFilter, JobView } from '../control/control-api.js';
import { JOB_REF_MIN_CHARS, JOB_STATUSES } from '../control/job-service.js';
import { parseNumberArg } from './cli-arg-parsers.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatJobCancel, formatJobDetails, formatJobTable, formatJson, writeOut } from './print.js';

interface JobListFlags extends DataCommandFlags {
  key?: string;
  status?: JobListFilter['status'];
  limit?: number;
}

/** The filter `jobs list` sends: only the flags given. */
export function buildJobListFilter(flags: JobListFlags): JobListFilter {
  const filter: JobListFilter = { key: flags.key, status: flags.status, limit: flags.limit };
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));
}

const printJob = (job: JobView, flags: DataCommandFlags): void => writeOut(flags.json ? formatJson(buildWireView(job)) : formatJobDetails(job));

/** Registers `jobs list|show|cancel`: async image jobs by their id hash (never the client's job id, never a result). */
export function registerJobsCommands(program: Command): void {
  const jobs = program.command('jobs').description('list, show and cancel async image jobs (ids, status, timings; never results)');

  addDataOptions(jobs.command('list').description('recent jobs, newest first'))
    .option('--key <key>', 'only the jobs of this key (name or id)')
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(JOB_STATUSES))
    .option('--limit <n>', `how many (${formatLimitRange(FIELD_LIMITS.jobListLimit)}, default ${FIELD_LIMITS.jobListLimit.default})`, parseNumberArg)
    .action(async (flags: JobListFlags) => {
      const list = await withControl(flags, (api) => api.jobs.list(buildJobListFilter(flags)));
      writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatJobTable(list));
    });

  addDataOptions(
    jobs
      .command('show')
      .description('show one job')
      .argument('<job>', `job id (as \`jobs list\` shows it, or at least ${JOB_REF_MIN_CHARS} of its first characters)`),
  ).action(async (ref: string, flags: DataCommandFlags) => printJob(await withControl(flags, (api) => api.jobs.show(ref)), flags));

  addDataOptions(
    jobs
      .command('cancel')
      .description('cancel a queued or running job (its instance stops it within JOB_HEARTBEAT_MS)')
      .argument('<job>', 'job id or a unique prefix of it'),
  ).action(async (ref: string, flags: DataCommandFlags) => {
    const job = await withControl(flags, (api) => api.jobs.cancel(ref));
    writeOut(flags.json ? formatJson(buildWireView(job)) : formatJobCancel(job));
  });
}
