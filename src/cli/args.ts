import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

export const USAGE = `Usage:
  taskchart run FILE [options]     run a workflow file
  taskchart validate FILE          check a workflow file without running it
  taskchart --help | --version

Options of run (each overrides the file):
  --max-parallel N    how many tasks run at once; 0 = unlimited
  --fail-fast         cancel everything at the first failure
  --log-dir DIR       write one log file per task into DIR
  --events FILE       write every lifecycle event as JSON lines to FILE
  --summary FILE      write the run summary as JSON to FILE
  -v, --verbose       show detail and debug lines on the terminal
  --quiet             print only the final summary

Exit codes: 0 done, 1 a task failed or was cancelled, 2 invalid workflow or usage,
130 interrupted (SIGINT), 143 terminated (SIGTERM).`;

export type Command =
  | { name: 'help' }
  | { name: 'version' }
  | { name: 'validate'; file: string }
  | { name: 'run'; file: string; options: RunFlags };

export interface RunFlags {
  maxParallel?: number;
  failFast?: boolean;
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
        throw new UsageError(`--max-parallel must be a whole number >= 0 (0 = unlimited), got "${value}"`);
      }
      throw new UsageError(`${option} got "${value}", which reads as an option; write ${option}=${value} to pass it as the value`);
    }
    throw new UsageError(message.split('\n')[0] ?? message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: 'help' };
  if (values.version) return { name: 'version' };
  const [name, file, ...extra] = positionals;
  if (name === undefined) throw new UsageError('no command given; expected "run FILE" or "validate FILE"');
  if (name !== 'run' && name !== 'validate') {
    throw new UsageError(`unknown command "${name}"; expected "run" or "validate"`);
  }
  if (file === undefined) throw new UsageError(`"${name}" needs a workflow file, e.g. taskchart ${name} workflow.yaml`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" after the workflow file`);
  if (name === 'validate') return { name, file };

  const options: RunFlags = { verbose: values.verbose ?? false, quiet: values.quiet ?? false };
  const limit = values['max-parallel'];
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit)) {
      throw new UsageError(`--max-parallel must be a whole number >= 0 (0 = unlimited), got "${limit}"`);
    }
    options.maxParallel = Number(limit);
  }
  if (values['fail-fast']) options.failFast = true;
  if (values['log-dir'] !== undefined) options.logDir = values['log-dir'];
  if (values.events !== undefined) options.events = values.events;
  if (values.summary !== undefined) options.summary = values.summary;
  if (options.verbose && options.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  return { name, file, options };
}
