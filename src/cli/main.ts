#!/usr/bin/env node
import { readFileSync } from 'node:fs';
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
  const workflow = createWorkflow(await loadWorkflowFile(file));
  const sinks: Sink[] = [
    createTerminal({ stream: process.stdout, quiet: flags.quiet, verbose: flags.verbose }),
  ];
  if (flags.logDir !== undefined) sinks.push(createLogFiles(flags.logDir));
  if (flags.events !== undefined) sinks.push(createEventLog(flags.events));
  if (flags.summary !== undefined) sinks.push(createSummary(flags.summary));
  const sink = fanOut(sinks, (error) => warn(`an output sink failed: ${describe(error)}`));

  const options: { maxParallel?: number; failFast?: boolean } = {};
  if (flags.maxParallel !== undefined) options.maxParallel = flags.maxParallel;
  if (flags.failFast !== undefined) options.failFast = flags.failFast;
  const current = workflow.run({
    ...options,
    onListenerError: (error) => warn(`an event listener failed: ${describe(error)}`),
  });
  current.on('*', (event) => sink.handle(event));

  let signal: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (name: 'SIGINT' | 'SIGTERM') => () => {
    if (signal !== undefined) {
      process.exit(EXIT[name]);
    }
    signal = name;
    current.cancel();
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const result = await current.result;
    await sink.close();
    if (signal !== undefined) return EXIT[signal];
    return EXIT[result.status];
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

function countTasks(tasks: readonly { tasks?: readonly unknown[] }[]): number {
  return tasks.reduce((sum, task) => sum + 1 + (task.tasks ? countTasks(task.tasks as never) : 0), 0);
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
    process.stderr.write(`taskchart: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  },
);
