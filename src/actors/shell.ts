import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';

import { TaskProcessError } from '../errors.js';
import type { TaskContext, TaskRunner } from '../types.js';

export interface ShellOptions {
  /** The command, run with `sh -c`. */
  command: string;
  /** Working directory, taken from `baseDir` when relative. Default: `baseDir`. */
  cwd?: string;
  /**
   * Folder that relative paths are taken from (the workflow file's folder).
   * Default: `process.cwd()`.
   */
  baseDir?: string;
  /** Extra environment, merged over `process.env`. Default: none. */
  env?: Record<string, string>;
  /** After an abort: ms between SIGTERM to the process group and SIGKILL. Default: 5000. */
  graceMs?: number;
}

/** Longest piece of a line handed to `output`, in bytes; longer lines are cut. */
export const MAX_LINE_BYTES = 64 * 1024;

/** How long to wait for the pipes to close once the process has exited and its group is killed. */
const DRAIN_MS = 200;

const PROGRESS = /^::progress[ \t]+(\S+)(?:[ \t]+(.*))?$/;
const PERCENT = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const FILE = /^::file[ \t]+(.*\S)[ \t]*$/;

/** Process groups of commands started here that may still have members, by group id. */
const liveGroups = new Set<number>();

/**
 * Sends `signal` to every process group started by `runShell` that may still be alive, and
 * returns how many groups were signalled. Meant for a last resort such as a second Ctrl-C: each
 * runner then settles as soon as its process dies, as it does for any other signal.
 *
 * @example
 * process.once('SIGINT', () => killAllProcesses());
 */
export function killAllProcesses(signal: NodeJS.Signals = 'SIGKILL'): number {
  let count = 0;
  for (const pgid of liveGroups) {
    signalGroup(pgid, signal);
    count++;
  }
  return count;
}

/**
 * Creates a runner that executes `command` with `sh -c` in its own process group.
 *
 * Each line printed is reported with `ctx.output`; stdout lines `::progress <percent> [message]`
 * and `::file <path>` become `ctx.progress` and `ctx.produce` calls instead. The command sees
 * `TASKCHART_TASK_ID` and, for for-each instances, `TASKCHART_FILE` (the item's absolute path).
 * Exit code 0 resolves; anything else rejects with a `TaskProcessError`. Aborting `ctx.signal`
 * sends SIGTERM to the group, then SIGKILL after `graceMs`.
 *
 * @example
 * ```ts
 * const task = { id: 'thumbs', run: runShell({ command: 'make thumbs', cwd: 'site' }) };
 * ```
 */
export function runShell(options: ShellOptions): TaskRunner {
  if (typeof options.command !== 'string') {
    throw new TypeError(
      `runShell: expected \`command\` to be a string, got ${typeof options.command}; pass the shell command to run.`,
    );
  }
  const graceMs = options.graceMs ?? 5000;
  // Node cannot keep a timer longer than 2^31 - 1 ms; a longer one would fire at once.
  if (!Number.isFinite(graceMs) || graceMs < 0 || graceMs > 2_147_483_647) {
    throw new RangeError(
      `runShell: expected \`graceMs\` to be a number of milliseconds from 0 to 2147483647, got ${String(graceMs)}; pass e.g. 5000.`,
    );
  }
  const baseDir = path.resolve(options.baseDir ?? process.cwd());
  const cwd = path.resolve(baseDir, options.cwd ?? '.');
  const env = options.env ?? {};
  const settings: Settings = { command: options.command, baseDir, cwd, env, graceMs };

  return (ctx: TaskContext) => execute(settings, ctx);
}

interface Settings {
  command: string;
  baseDir: string;
  cwd: string;
  env: Record<string, string>;
  graceMs: number;
}

type Outcome = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };

async function execute(settings: Settings, ctx: TaskContext): Promise<void> {
  if (ctx.signal.aborted) throw ctx.signal.reason;

  // The first error thrown by a context callback; kept so a stream handler never throws.
  let callbackError: { error: unknown } | undefined;
  const guarded = (call: () => void): void => {
    try {
      call();
    } catch (error) {
      callbackError ??= { error };
    }
  };

  const stdout = createLineSplitter((line, whole) =>
    guarded(() => handleStdout(settings, ctx, line, whole)),
  );
  // The last thing the command said on stderr goes into its error, where a user looks first.
  let lastError = '';
  const stderr = createLineSplitter((line) => {
    if (line.trim() !== '') lastError = line.trim();
    guarded(() => ctx.output(line, 'stderr'));
  });

  let child: ChildProcess;
  try {
    child = spawn('sh', ['-c', settings.command], {
      cwd: settings.cwd,
      env: buildEnv(settings, ctx),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw spawnError(settings, ctx, error);
  }
  const pipes = [child.stdout, child.stderr].filter((pipe): pipe is Readable => pipe !== null);
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  let exited = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    if (pid === undefined || exited) return;
    signalGroup(pid, 'SIGTERM');
    graceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), settings.graceMs);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  try {
    const outcome = await waitForExit(child);
    exited = true;
    if ('error' in outcome) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw spawnError(settings, ctx, outcome.error);
    }

    // Grandchildren left behind would hold the pipes open and outlive the task.
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    await drain(pipes, DRAIN_MS);
    stdout.flush();
    stderr.flush();

    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (callbackError) throw callbackError.error;
    const said = lastError === '' ? '' : `: ${clip(lastError)}`;
    if (outcome.signal !== null) {
      const message = `killed by ${outcome.signal}${said}`;
      throw new TaskProcessError(message, { signal: outcome.signal });
    }
    if (outcome.code !== 0) {
      const code = outcome.code ?? 1;
      throw new TaskProcessError(`exited with code ${code}${said}`, { exitCode: code });
    }
  } finally {
    // Every member has been killed by now, and the id may be reused by an unrelated process.
    if (pid !== undefined) liveGroups.delete(pid);
    clearTimeout(graceTimer);
    ctx.signal.removeEventListener('abort', onAbort);
    for (const pipe of pipes) pipe.destroy();
  }
}

/** A line short enough for an error message. */
function clip(line: string): string {
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function buildEnv(settings: Settings, ctx: TaskContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...settings.env, TASKCHART_TASK_ID: ctx.id };
  // An inherited value would belong to some other task.
  delete env.TASKCHART_FILE;
  if (ctx.item !== undefined) env.TASKCHART_FILE = path.resolve(settings.baseDir, ctx.item);
  return env;
}

function handleStdout(settings: Settings, ctx: TaskContext, line: string, whole: boolean): void {
  if (whole && line.startsWith('::')) {
    const progress = PROGRESS.exec(line);
    const token = progress?.[1];
    const percent = token !== undefined && PERCENT.test(token) ? Number(token) : NaN;
    if (percent >= 0 && percent <= 100) {
      const message = progress?.[2]?.trim();
      if (message) ctx.progress(percent / 100, message);
      else ctx.progress(percent / 100);
      return;
    }
    const file = FILE.exec(line)?.[1];
    if (file !== undefined) {
      ctx.produce(toItem(settings, file.trim()));
      return;
    }
  }
  ctx.output(line, 'stdout');
}

/** A path the command printed, as an item: relative to `baseDir` when inside it, else absolute. */
function toItem(settings: Settings, printed: string): string {
  const absolute = path.resolve(settings.cwd, printed);
  const relative = path.relative(settings.baseDir, absolute);
  if (relative === '') return '.';
  const outside =
    relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
  if (outside) return absolute;
  return relative.split(path.sep).join('/');
}

function waitForExit(child: ChildProcess): Promise<Outcome> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ error }));
  });
}

/**
 * Waits until every pipe has ended, but at most `ms` milliseconds, and in any case until the
 * event loop has polled for I/O once after the time is up: when the loop was blocked meanwhile
 * (hundreds of processes starting), the timer and the pipes' last bytes are due together, and
 * timers run before I/O in a turn.
 */
async function drain(pipes: readonly Readable[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(() => setImmediate(resolve), ms);
  });
  try {
    const ended = Promise.all(pipes.map((pipe) => finished(pipe).catch(() => undefined)));
    await Promise.race([ended, bound]);
  } finally {
    clearTimeout(timer);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone. EPERM: nothing left in it that we may signal.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

function spawnError(settings: Settings, ctx: TaskContext, error: unknown): TaskProcessError {
  const reason = error instanceof Error ? error.message : String(error);
  const where = `task "${ctx.id}"`;
  let cwdProblem: string | undefined;
  try {
    if (!statSync(settings.cwd).isDirectory()) cwdProblem = 'is not a directory';
  } catch {
    cwdProblem = 'does not exist';
  }
  const message = cwdProblem
    ? `Cannot start ${where}: working directory ${settings.cwd} ${cwdProblem}; create it or change \`cwd\`.`
    : `Cannot start ${where}: \`sh -c ${settings.command}\` failed to spawn (${reason}); check that \`sh\` is on PATH.`;
  return new TaskProcessError(message, { exitCode: 127 });
}

interface LineSplitter {
  push(chunk: Buffer): void;
  /** Hands over a last line that had no newline; later pushes are ignored. */
  flush(): void;
}

/**
 * Splits a byte stream into lines. `whole` is false for the pieces of a line longer than
 * `MAX_LINE_BYTES`, which is cut so memory stays bounded. Each line is decoded on its own, so
 * invalid UTF-8 becomes U+FFFD and never leaks into the next line.
 */
function createLineSplitter(onLine: (line: string, whole: boolean) => void): LineSplitter {
  let parts: Buffer[] = [];
  let size = 0;
  let cut = false;
  let closed = false;

  const emit = (bytes: Buffer, whole: boolean): void => onLine(bytes.toString('utf8'), whole);

  const append = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    parts.push(bytes);
    size += bytes.length;
    // One byte of slack so a line of exactly MAX_LINE_BYTES ending in `\r\n` is not cut.
    const overlong = (): boolean =>
      size > MAX_LINE_BYTES + 1 || (size === MAX_LINE_BYTES + 1 && parts.at(-1)?.at(-1) !== 0x0d);
    while (overlong()) {
      const pending = Buffer.concat(parts, size);
      const end = charBoundary(pending, MAX_LINE_BYTES);
      emit(pending.subarray(0, end), false);
      cut = true;
      parts = [pending.subarray(end)];
      size -= end;
    }
  };

  const endLine = (): void => {
    let line = Buffer.concat(parts, size);
    if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
    parts = [];
    size = 0;
    if (!(cut && line.length === 0)) emit(line, !cut);
    cut = false;
  };

  return {
    push(chunk) {
      if (closed) return;
      let start = 0;
      let newline = chunk.indexOf(0x0a);
      while (newline !== -1) {
        append(chunk.subarray(start, newline));
        endLine();
        start = newline + 1;
        newline = chunk.indexOf(0x0a, start);
      }
      append(chunk.subarray(start));
    },
    flush() {
      if (closed) return;
      closed = true;
      if (size > 0) endLine();
    },
  };
}

/** The largest index <= `max` that does not split a UTF-8 sequence (or `max` for invalid bytes). */
function charBoundary(bytes: Buffer, max: number): number {
  for (let end = max; end > max - 4 && end > 0; end--) {
    const byte = bytes[end];
    if (byte === undefined || (byte & 0xc0) !== 0x80) return end;
  }
  return max;
}
