#!/usr/bin/env node
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { killAllProcesses } from '../actors/shell.js';
import { TaskchartError, UsageError } from '../errors.js';
import { createEventLog } from '../io/event-log.js';
import { createLogFiles } from '../io/log-files.js';
import { fanOut, type Sink } from '../io/sink.js';
import { createSummary } from '../io/summary.js';
import { createTerminal } from '../io/terminal.js';
import { loadWorkflowFile } from '../io/workflow-file.js';
import { createWorkflow } from '../run.js';
import { parseCommand, USAGE, type RunFlags } from './args.js';

const EXIT = { done: 0, failed: 1, cancelled: 1, invalid: 2, SIGINT: 130, SIGTERM: 143 } as const;

async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommand(argv);
  switch (command.name) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`${readVersion()}\n`);
      return 0;
    case 'validate': {
      const definition = await loadWorkflowFile(command.file);
      createWorkflow(definition);
      process.stdout.write(`${command.file}: valid, ${countTasks(definition.tasks)} task(s)\n`);
      return 0;
    }
    case 'run':
      return run(command.file, command.options);
  }
}

async function run(file: string, flags: RunFlags): Promise<number> {
  const { graceMs } = flags;
  blockOnPipes();
  const workflow = createWorkflow(await loadWorkflowFile(file, { graceMs }));
  checkOutputs(file, flags);
  const sinks: Sink[] = [
    createTerminal({ stream: process.stdout, quiet: flags.quiet, verbose: flags.verbose }),
  ];
  openSink(sinks, '--log-dir', flags.logDir, createLogFiles);
  openSink(sinks, '--events', flags.events, createEventLog);
  openSink(sinks, '--summary', flags.summary, createSummary);
  let sinkFailed = false;
  const sink = fanOut(sinks, (error) => {
    sinkFailed = true;
    warn(`an output could not be written: ${describe(error)}`);
  });

  const options: { maxParallel?: number; failFast?: boolean } = {};
  if (flags.maxParallel !== undefined) options.maxParallel = flags.maxParallel;
  if (flags.failFast !== undefined) options.failFast = flags.failFast;
  const current = workflow.run({
    ...options,
    graceMs,
    onListenerError: (error) => warn(`an event listener failed: ${describe(error)}`),
  });
  current.on('*', (event) => sink.handle(event));

  const interrupts = watchSignals({
    cancel: () => current.cancel(),
    kill: () => killAllProcesses(),
  });
  const result = await current.result;
  interrupts.settled();
  await sink.close();
  // A signal that came as the last task finished still decides the exit code.
  if (interrupts.signal !== undefined) return EXIT[interrupts.signal];
  // An output asked for and not written is a failure too, even if every task was done.
  return sinkFailed ? Math.max(EXIT[result.status], EXIT.failed) : EXIT[result.status];
}

/** The output files must differ from each other and from the workflow, and be plain files. */
function checkOutputs(file: string, flags: RunFlags): void {
  const outputs: [string, string | undefined][] = [
    ['--events', flags.events],
    ['--summary', flags.summary],
    ['--log-dir', flags.logDir],
  ];
  const seen = new Map<string, string>([[resolve(file), 'the workflow file']]);
  for (const [flag, given] of outputs) {
    if (given === undefined) continue;
    const at = resolve(given);
    const other = seen.get(at);
    if (other)
      throw new UsageError(`${flag} "${given}" is the same path as ${other}; choose another`);
    seen.set(at, flag);
    if (flag === '--log-dir') continue;
    const existing = lstatOrUndefined(at);
    if (existing && !existing.isFile()) {
      throw new UsageError(
        `${flag} "${given}" exists and is not a regular file; choose a file path`,
      );
    }
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Opens one output; a path it cannot use is a usage error, before anything runs. */
function openSink(
  sinks: Sink[],
  flag: string,
  given: string | undefined,
  create: (path: string) => Sink,
): void {
  if (given === undefined) return;
  try {
    sinks.push(create(given));
  } catch (error) {
    throw new UsageError(`${flag} "${given}" cannot be written: ${describe(error)}`);
  }
}

type SignalName = 'SIGINT' | 'SIGTERM';

interface Interrupts {
  /** The first signal received, if any. */
  readonly signal: SignalName | undefined;
  /** The run's result is in: later signals have nothing left to cancel or kill. */
  settled(): void;
}

/**
 * The first SIGINT or SIGTERM cancels the run, the second kills every task's processes at once
 * (the run then ends as soon as they are gone and the sinks are closed), a third exits at once.
 * The handlers stay until the process exits, so a signal that comes while the sinks close or
 * after the last task ended still makes the exit code 130 or 143 (that of the first signal).
 */
function watchSignals(actions: { cancel(): void; kill(): void }): Interrupts {
  let first: SignalName | undefined;
  let count = 0;
  let settled = false;
  const on = (name: SignalName) => () => {
    count++;
    first ??= name;
    if (count > 2) {
      process.exit(EXIT[first]);
    } else if (settled) {
      process.exitCode = EXIT[first];
    } else if (count === 1) {
      warn(`${name} received; cancelling the run (send it again to kill every task at once)`);
      actions.cancel();
    } else {
      warn(`${name} received again; killing every task's processes`);
      actions.kill();
    }
  };
  process.on('SIGINT', on('SIGINT'));
  process.on('SIGTERM', on('SIGTERM'));
  return {
    get signal() {
      return first;
    },
    settled() {
      settled = true;
    },
  };
}

/**
 * Node writes to a pipe asynchronously, queueing in memory whatever the reader has not taken
 * yet; a task printing hundreds of megabytes into `taskchart run | less` would pile up there.
 * Blocking writes, as a terminal or a file already gets, make a slow reader slow the run down.
 */
function blockOnPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as { _handle?: { setBlocking?: (blocking: boolean) => void } })._handle;
    handle?.setBlocking?.(true);
  }
}

function countTasks(tasks: readonly { tasks?: readonly unknown[] }[]): number {
  return tasks.reduce(
    (sum, task) => sum + 1 + (task.tasks ? countTasks(task.tasks as never) : 0),
    0,
  );
}

function readVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function warn(message: string): void {
  process.stderr.write(`taskchart: ${message}\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // One more turn of the event loop, so that a signal already delivered reaches its handler
    // (and the exit code) before the process ends.
    setImmediate(() => {});
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${USAGE}\n\ntaskchart: ${error.message}\n`);
      process.exitCode = EXIT.invalid;
      return;
    }
    if (error instanceof TaskchartError && error.code === 'INVALID_WORKFLOW') {
      process.stderr.write(`taskchart: ${error.message}\n`);
      process.exitCode = EXIT.invalid;
      return;
    }
    process.stderr.write(
      `taskchart: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 70;
  },
);
