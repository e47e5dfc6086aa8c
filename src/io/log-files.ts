import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TaskchartEvent, TaskEvent } from '../types.js';
import { createFileWriter } from './file-writer.js';
import { FLUSH_THRESHOLD, formatCancel, formatExit, formatPercent, splitLines } from './format.js';
import type { Sink } from './sink.js';

const SLUG_LENGTH = 80;
/** Past this many buffered characters across all tasks, every task's buffer is written. */
const TOTAL_THRESHOLD = 16 * FLUSH_THRESHOLD;

/**
 * The log file name for a task id: a readable slug of the id (characters other
 * than `A-Z a-z 0-9 . _ -` become `_`, a leading dot or dash too, and ids longer than
 * 80 characters keep their start and end) plus `-`, the first 10 hex digits of
 * the SHA-1 of the exact id, and `.log`. Distinct ids get distinct names even on
 * case-insensitive file systems, and the same id always gets the same name.
 *
 * @example
 * logFileName('convert[a b.txt]'); // 'convert_a_b.txt_-<hash>.log'
 */
export function logFileName(id: string): string {
  // A leading dot would hide the file and a leading dash reads as a command-line option.
  let slug = id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]/, '_') || '_';
  if (slug.length > SLUG_LENGTH) {
    const half = SLUG_LENGTH / 2;
    slug = `${slug.slice(0, half - 1)}__${slug.slice(-(half - 1))}`;
  }
  const hash = createHash('sha1').update(id, 'utf8').digest('hex').slice(0, 10);
  return `${slug}-${hash}.log`;
}

interface Pending {
  chunks: string[];
  size: number;
}

/**
 * Writes one log file per task into `dir` (created if missing), named by
 * {@link logFileName}. Every line is `LEVEL: <id>: <text>`:
 *
 * - `INFO: <id>: START: <description>` when the task starts;
 * - `INFO|DETAIL|DEBUG: <id>: <line>` for each logged line; lines a process
 *   wrote to stderr read `<LEVEL>: <id>: stderr: <line>`;
 * - `DETAIL: <id>: PROGRESS: 50% <message>`;
 * - `INFO: <id>: FILE: <path>` for each produced file;
 * - at the end `INFO: <id>: DONE`, `ERROR: <id>: FAILED: <message> (exit 1)` or
 *   `INFO: <id>: CANCELLED: <reason>` (`CANCELLED: prerequisite <id>` when a
 *   prerequisite failed). Messages spanning several lines give several lines.
 *
 * A task's file is created (and truncated) at its first write. Lines are
 * buffered per task and handed to a writer thread when the task ends, when its
 * buffer passes 64 KiB, and on `close`, which resolves once every file is
 * written; the writer opens one file at a time, so a run with 100,000 tasks
 * holds no more than one descriptor, and the engine never waits on the disk.
 */
export function createLogFiles(dir: string): Sink {
  fs.mkdirSync(dir, { recursive: true });
  const descriptions = new Map<string, string>();
  const created = new Set<string>();
  const pending = new Map<string, Pending>();
  const writer = createFileWriter();
  let total = 0;
  let closed = false;

  const flushTask = (id: string): void => {
    const buffer = pending.get(id);
    if (!buffer) return;
    pending.delete(id);
    total -= buffer.size;
    const replace = !created.has(id);
    created.add(id);
    writer.write(path.join(dir, logFileName(id)), buffer.chunks.join(''), replace);
  };

  const flushAll = (): void => {
    for (const id of [...pending.keys()]) flushTask(id);
  };

  const append = (id: string, level: string, text: string): void => {
    let buffer = pending.get(id);
    if (!buffer) {
      buffer = { chunks: [], size: 0 };
      pending.set(id, buffer);
    }
    for (const line of splitLines(text)) {
      const entry = `${level}: ${id}: ${line}\n`;
      buffer.chunks.push(entry);
      buffer.size += entry.length;
      total += entry.length;
    }
  };

  const record = (event: TaskEvent): boolean => {
    const id = event.id;
    switch (event.type) {
      case 'task.added':
        descriptions.set(id, event.task.description);
        return false;
      case 'task.started': {
        const description = descriptions.get(id);
        append(id, 'INFO', description ? `START: ${description}` : 'START');
        return false;
      }
      case 'task.log': {
        const stream = event.stream === 'stderr' ? 'stderr: ' : '';
        append(id, event.level.toUpperCase(), `${stream}${event.line}`);
        return false;
      }
      case 'task.progress': {
        const message = event.message ? ` ${event.message}` : '';
        append(id, 'DETAIL', `PROGRESS: ${formatPercent(event.fraction)}${message}`);
        return false;
      }
      case 'task.file':
        append(id, 'INFO', `FILE: ${event.path}`);
        return false;
      case 'task.retrying': {
        const exit = formatExit(event.error);
        const why = `${event.error.message}${exit ? ` (${exit})` : ''}`;
        append(
          id,
          'ERROR',
          `RETRY: attempt ${event.attempt} failed: ${why}; next in ${event.delayMs}ms`,
        );
        return false;
      }
      case 'task.done':
        append(id, 'INFO', 'DONE');
        return true;
      case 'task.failed': {
        const exit = formatExit(event.error);
        append(id, 'ERROR', `FAILED: ${event.error.message}${exit ? ` (${exit})` : ''}`);
        return true;
      }
      case 'task.cancelled':
        append(id, 'INFO', `CANCELLED: ${formatCancel(event.reason, event.prerequisite)}`);
        return true;
      default:
        return false;
    }
  };

  return {
    handle(event: TaskchartEvent) {
      if (closed) return;
      if (event.type === 'run.started') {
        for (const task of event.tasks) descriptions.set(task.id, task.description);
        return;
      }
      if (event.type === 'run.done') {
        flushAll();
        return;
      }
      const ended = record(event);
      const size = pending.get(event.id)?.size ?? 0;
      if (ended || size >= FLUSH_THRESHOLD) flushTask(event.id);
      if (total >= TOTAL_THRESHOLD) flushAll();
    },
    async close() {
      if (closed) return;
      closed = true;
      flushAll();
      await writer.close();
    },
  };
}
