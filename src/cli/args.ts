import { parseArgs } from 'node:util';
import { parseDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import { MAX_DELAY_MS } from '../machines/checks.js';

/** How long a cancelled task's processes get between SIGTERM and SIGKILL, unless `--grace` says otherwise. */
export const DEFAULT_GRACE = '5s';

export const USAGE = `Usage:
  taskchart run FILE [options]     run a workflow file
  taskchart validate FILE          check a workflow file without running it
  taskchart --help | --version

Options of run:
  --max-parallel N    how many tasks run at once; 0 = unlimited (overrides the file)
  --fail-fast         cancel everything at the first failure (overrides the file)
  --grace DURATION    how long a cancelled or timed-out task's processes get between
                      SIGTERM and SIGKILL, e.g. 500ms, 5s, 2m (default ${DEFAULT_GRACE})
  --log-dir DIR       write one log file per task into DIR
  --events FILE       write every lifecycle event as JSON lines to FILE
  --summary FILE      write the run summary as JSON to FILE
  -v, --verbose       show detail and debug lines on the terminal
  --quiet             print only the final summary

Exit codes: 0 done, 1 a task failed or was cancelled, 2 invalid workflow or usage,
130 interrupted (SIGINT), 143 terminated (SIGTERM).

The first SIGINT or SIGTERM cancels the run: no new task starts and running tasks get SIGTERM,
then SIGKILL after the grace period. A second one kills every task's processes at once; the
run still writes its logs, events and summary before it exits.`;

export type Command =
  | { name: 'help' }
  | { name: 'version' }
  | { name: 'validate'; file: string }
  | { name: 'run'; file: string; options: RunFlags };

export interface RunFlags {
  maxParallel?: number;
  failFast?: boolean;
  /** Ms between SIGTERM and SIGKILL for an aborted shell task. */
  graceMs: number;
  logDir?: string;
  events?: string;
  summary?: string;
  verbose: boolean;
  quiet: boolean;
}

/** Reads the command line; throws `UsageError` with one sentence saying what is wrong. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'max-parallel': { type: 'string' },
        'fail-fast': { type: 'boolean' },
        grace: { type: 'string', default: DEFAULT_GRACE },
        'log-dir': { type: 'string' },
        events: { type: 'string' },
        summary: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A value that starts with a dash reads as an option; say what the value should be.
    const dashed = /^Option '(--[a-z-]+)[^']*' argument is ambiguous/.exec(message);
    if (dashed) {
      const option = dashed[1]!;
      const value = argv[argv.indexOf(option) + 1] ?? '';
      if (option === '--max-parallel') {
        throw new UsageError(
          `--max-parallel must be a whole number >= 0 (0 = unlimited), got "${value}"`,
        );
      }
      if (option === '--grace') throw graceError(value);
      throw new UsageError(
        `${option} got "${value}", which reads as an option; write ${option}=${value} to pass it as the value`,
      );
    }
    throw new UsageError(message.split('\n')[0] ?? message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: 'help' };
  if (values.version) return { name: 'version' };
  const [name, file, ...extra] = positionals;
  if (name === undefined)
    throw new UsageError('no command given; expected "run FILE" or "validate FILE"');
  if (name !== 'run' && name !== 'validate') {
    throw new UsageError(`unknown command "${name}"; expected "run" or "validate"`);
  }
  if (file === undefined)
    throw new UsageError(`"${name}" needs a workflow file, e.g. taskchart ${name} workflow.yaml`);
  if (extra.length > 0)
    throw new UsageError(`unexpected argument "${extra[0]}" after the workflow file`);
  if (name === 'validate') return { name, file };

  const graceMs = parseDuration(values.grace);
  // Node cannot wait longer than about 24.8 days; a longer timer would fire at once.
  if (graceMs === undefined || graceMs > MAX_DELAY_MS) throw graceError(values.grace);
  const options: RunFlags = {
    graceMs,
    verbose: values.verbose ?? false,
    quiet: values.quiet ?? false,
  };
  const limit = values['max-parallel'];
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit)) {
      throw new UsageError(
        `--max-parallel must be a whole number >= 0 (0 = unlimited), got "${limit}"`,
      );
    }
    options.maxParallel = Number(limit);
  }
  if (values['fail-fast']) options.failFast = true;
  if (values['log-dir'] !== undefined) options.logDir = values['log-dir'];
  if (values.events !== undefined) options.events = values.events;
  if (values.summary !== undefined) options.summary = values.summary;
  if (options.verbose && options.quiet)
    throw new UsageError('--verbose and --quiet cannot be used together');
  return { name, file, options };
}

function graceError(value: string): UsageError {
  return new UsageError(
    `--grace must be a duration such as 500ms, 5s or 2m (at most 596h), got "${value}"; write e.g. --grace 10s`,
  );
}
