import fs from 'node:fs';
import path from 'node:path';
import { createStatusTable, type StatusTable } from '../status.js';
import type { CancelReason, RunStatus, TaskchartEvent, TaskStatus } from '../types.js';
import type { Sink } from './sink.js';

/** One task in the summary file. */
export interface TaskSummary {
  status: TaskStatus;
  reason?: CancelReason;
  prerequisite?: string;
  /** The failed task's error message. */
  error?: string;
  exitCode?: number;
  signal?: string;
  /** `timeout` when the task ran past its timeout. */
  failure?: 'timeout';
  /** How many attempts ran, when the task was retried. */
  attempts?: number;
  startedAt?: number;
  completedAt?: number;
}

/** The summary file's content. */
export interface RunSummary {
  status: RunStatus;
  error?: string;
  startedAt?: number;
  completedAt?: number;
  tasks: Record<string, TaskSummary>;
}

const UNFINISHED =
  'The run ended without a run.done event; tasks still scheduled or running never finished.';

/** Builds the summary from a status table; `lastTime` stands in for a missing `run.done`. */
export function summarize(table: StatusTable, lastTime?: number): RunSummary {
  const status = table.runStatus();
  const summary: RunSummary = { status: status ?? 'failed', tasks: {} };
  const error = table.runError() ?? (status === undefined ? UNFINISHED : undefined);
  if (error !== undefined) summary.error = error;
  const startedAt = table.startedAt();
  const completedAt = table.completedAt() ?? lastTime;
  if (startedAt !== undefined) summary.startedAt = startedAt;
  if (completedAt !== undefined) summary.completedAt = completedAt;

  for (const [id, result] of Object.entries(table.results())) {
    const task: TaskSummary = { status: result.status };
    if (result.status === 'cancelled') {
      task.reason = result.reason;
      if (result.prerequisite !== undefined) task.prerequisite = result.prerequisite;
    }
    if (result.status === 'failed') {
      task.error = result.error.message;
      if (result.error.exitCode !== undefined) task.exitCode = result.error.exitCode;
      if (result.error.signal !== undefined) task.signal = result.error.signal;
      if (result.error.reason !== undefined) task.failure = result.error.reason;
    }
    if (result.attempts !== undefined) task.attempts = result.attempts;
    if (result.startedAt !== undefined) task.startedAt = result.startedAt;
    if (result.completedAt !== undefined) task.completedAt = result.completedAt;
    // Defined, not assigned, so an id such as `__proto__` stays a plain key.
    Object.defineProperty(summary.tasks, id, {
      value: task,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return summary;
}

/**
 * Writes a pretty-printed JSON summary of the run to `file` at `run.done`, and
 * again at `close` if events arrived since. Parent directories are created and
 * the file is replaced atomically (written to a temporary file, then renamed),
 * so a reader never sees half a summary. A run that closes without `run.done`
 * is summarized as `failed` with an error saying so.
 *
 * @example
 * const summary = createSummary('.taskchart/summary.json');
 */
export function createSummary(file: string): Sink {
  const table = createStatusTable();
  let lastTime: number | undefined;
  let dirty = false;
  let closed = false;

  const write = (): void => {
    dirty = false;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    const text = `${JSON.stringify(summarize(table, lastTime), null, 2)}\n`;
    try {
      fs.writeFileSync(temporary, text);
      fs.renameSync(temporary, file);
    } catch (err) {
      fs.rmSync(temporary, { force: true });
      throw err;
    }
  };

  return {
    handle(event: TaskchartEvent) {
      if (closed) return;
      table.apply(event);
      lastTime = event.time;
      dirty = true;
      if (event.type === 'run.done') write();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (dirty) write();
    },
  };
}
