import { createStatusTable } from '../status.js';
import type { TaskchartEvent, TaskEvent, TaskInfo, TaskStatus } from '../types.js';
import {
  FLUSH_THRESHOLD,
  formatCancel,
  formatDuration,
  formatExit,
  formatPercent,
  splitLines,
} from './format.js';
import type { Sink } from './sink.js';

export interface TerminalOptions {
  /** Where the report goes, usually `process.stderr`. */
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  /** Redraw a block of running tasks at the bottom. Default: `stream.isTTY` and `CI` unset. */
  live?: boolean;
  /** ANSI colors. Default: `stream.isTTY` and `NO_COLOR` unset or empty. */
  color?: boolean;
  /** Print only the final summary. Default `false`. */
  quiet?: boolean;
  /** Also print produced files and `detail`/`debug` log lines. Default `false`. */
  verbose?: boolean;
  /** Milliseconds now, for elapsed times and redraw pacing. Default `Date.now`. */
  clock?: () => number;
}

const REDRAW_MS = 100;
const CONTROL = /[\u0000-\u001f\u007f]/g;
/** Controls other than tab, replaced in task output lines. */
const OUTPUT_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;
const BAR_WIDTH = 12;
const MAX_FAILED_LISTED = 20;
const STATUS_ORDER: readonly TaskStatus[] = ['done', 'failed', 'cancelled', 'running', 'scheduled'];

const ESC = '\u001b[';
const CODES = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;
type Style = keyof typeof CODES;

interface Running {
  /** Event time of `task.started`, for the duration of finished tasks. */
  startedAt: number;
  /** Terminal clock at `task.started`, for the live elapsed time. */
  shownAt: number;
  fraction?: number;
  message?: string;
  lastProgress?: string;
}

/**
 * Reports a run on a terminal or a log stream.
 *
 * Plain mode prints one line per event worth showing: `▶ id: description`,
 * `✓ id (1.2s)`, `✗ id: message (exit 1)`, `⊘ id: cancelled (prerequisite fetch)`,
 * `… id 50% message`, `id | line` for logged lines (`detail`/`debug` lines and
 * `↳ id: path` for produced files only when verbose). Live mode keeps a block
 * of running tasks with a progress bar and elapsed time at the bottom, redrawn
 * at most every 100 ms, and prints logged lines and final states above it.
 * Both end with a summary at `run.done`: counts per status, the failed tasks
 * and `Run done|failed|cancelled in 3.4s`. Quiet mode prints only the summary.
 *
 * @example
 * const terminal = createTerminal({ stream: process.stderr, verbose: true });
 */
export function createTerminal(options: TerminalOptions): Sink {
  const { stream, quiet = false, verbose = false, clock = Date.now } = options;
  const tty = stream.isTTY === true;
  const color = options.color ?? (tty && !process.env['NO_COLOR']);
  const live = !quiet && (options.live ?? (tty && !process.env['CI']));

  const table = createStatusTable();
  const infos = new Map<string, TaskInfo>();
  const running = new Map<string, Running>();
  let firstTime: number | undefined;
  let lastTime: number | undefined;
  let finished = false;
  let closed = false;
  // A terminal that went away (EPIPE, a closed pipe) must not crash the run: stop writing to it.
  let broken = false;
  const onError = (): void => {
    broken = true;
  };
  stream.on('error', onError);
  const write = (text: string): void => {
    if (!broken) stream.write(text);
  };

  // Live mode state: lines waiting to be printed above the block, and the block on screen.
  let pending: string[] = [];
  let pendingSize = 0;
  let blockHeight = 0;
  let lastRender = Number.NEGATIVE_INFINITY;
  let dirty = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const paint = (style: Style, text: string): string =>
    color ? `${ESC}${CODES[style]}m${text}${ESC}0m` : text;

  const blockLines = (): string[] => {
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max(20, (stream.columns || 80) - 1);
    const maxLines = Math.max(1, Math.min(20, (stream.rows ?? 24) - 2));
    const tasks = [...running].filter(([id]) => infos.get(id)?.kind !== 'group');
    const shown = tasks.length > maxLines ? tasks.slice(0, maxLines - 1) : tasks;
    const now = clock();
    const lines = shown.map(([id, task]) => {
      const elapsed = formatDuration(now - task.shownAt).padStart(6);
      const fraction = task.fraction;
      const filled = fraction === undefined ? 0 : Math.round(clamp(fraction) * BAR_WIDTH);
      const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
      const percent = (fraction === undefined ? '' : formatPercent(fraction)).padStart(4);
      const head = `${elapsed} ${bar} ${percent} `;
      // A newline or control character inside the block would throw its height off.
      const tail = (task.message ? `${id}: ${task.message}` : id).replace(CONTROL, ' ');
      const text = fit(tail, width - head.length);
      return `${paint('dim', elapsed)} ${paint('cyan', bar)} ${percent} ${text}`;
    });
    const hidden = tasks.length - shown.length;
    if (hidden > 0) lines.push(paint('dim', `… ${hidden} more running`));
    return lines;
  };

  const render = (withBlock: boolean): void => {
    lastRender = clock();
    dirty = false;
    let out = blockHeight > 0 ? `${ESC}${blockHeight}A\r${ESC}0J` : '';
    if (pending.length > 0) out += `${pending.join('\n')}\n`;
    pending = [];
    pendingSize = 0;
    const block = withBlock ? blockLines() : [];
    if (block.length > 0) out += `${block.join('\n')}\n`;
    blockHeight = block.length;
    if (out) write(out);
  };

  const changed = (): void => {
    if (!live) return;
    dirty = true;
    if (!timer) {
      timer = setInterval(() => {
        if (dirty || running.size > 0) render(true);
      }, REDRAW_MS);
      timer.unref();
    }
    if (clock() - lastRender >= REDRAW_MS || pendingSize >= FLUSH_THRESHOLD) render(true);
  };

  const print = (text: string): void => {
    if (quiet) return;
    if (!live) {
      write(`${text}\n`);
      return;
    }
    pending.push(text);
    pendingSize += text.length + 1;
  };

  const stopLive = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (live && (blockHeight > 0 || pending.length > 0)) render(false);
  };

  const showTask = (event: TaskEvent): void => {
    const { id } = event;
    switch (event.type) {
      case 'task.added':
        infos.set(id, event.task);
        return;
      case 'task.started': {
        running.set(id, { startedAt: event.time, shownAt: clock() });
        const description = infos.get(id)?.description;
        const about = description && description !== id ? `: ${description}` : '';
        if (!live) print(`${paint('cyan', '▶')} ${id}${about}`);
        return;
      }
      case 'task.progress': {
        const task = running.get(id);
        const line = `${formatPercent(event.fraction)}${event.message ? ` ${event.message}` : ''}`;
        if (task) {
          task.fraction = event.fraction;
          if (event.message !== undefined) task.message = event.message;
          if (task.lastProgress === line) return;
          task.lastProgress = line;
        }
        if (!live) print(paint('dim', `… ${id} ${line}`));
        return;
      }
      case 'task.file':
        if (verbose) print(`${paint('dim', '↳')} ${id}: ${event.path}`);
        return;
      case 'task.log': {
        if (event.level !== 'info' && !verbose) return;
        // Escape sequences and other controls in task output must not drive the terminal.
        for (const line of splitLines(event.line)) {
          print(`${paint('dim', `${id} |`)} ${line.replace(OUTPUT_CONTROL, '�')}`);
        }
        return;
      }
      case 'task.retrying': {
        const wait = formatDuration(event.delayMs);
        const why = `${event.error.message}${formatExit(event.error) ? ` (${formatExit(event.error)})` : ''}`;
        const task = running.get(id);
        if (task) task.message = `retry ${event.attempt + 1} in ${wait}`;
        print(
          `${paint('yellow', '↻')} ${id}: attempt ${event.attempt} failed: ${why}; retrying in ${wait}`,
        );
        return;
      }
      case 'task.done': {
        const started = running.get(id)?.startedAt;
        running.delete(id);
        const took = started === undefined ? '' : ` (${formatDuration(event.time - started)})`;
        print(`${paint('green', '✓')} ${id}${paint('dim', took)}`);
        return;
      }
      case 'task.failed': {
        running.delete(id);
        failureLines(id, event.error.message, formatExit(event.error)).forEach(print);
        return;
      }
      case 'task.cancelled': {
        running.delete(id);
        const why = formatCancel(event.reason, event.prerequisite);
        print(`${paint('yellow', '⊘')} ${id}: cancelled (${why})`);
        return;
      }
      default:
        return;
    }
  };

  const failureLines = (id: string, message: string, exit: string): string[] => {
    const [first = '', ...rest] = splitLines(message);
    const head = `${paint('red', '✗')} ${id}: ${first}${exit ? ` (${exit})` : ''}`;
    return [head, ...rest.map((line) => `    ${line}`)];
  };

  const summaryLines = (): string[] => {
    const results = Object.values(table.results());
    const counts = new Map<TaskStatus, number>();
    for (const result of results) counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
    const parts = STATUS_ORDER.filter((status) => counts.has(status)).map(
      (status) => `${counts.get(status)} ${status}`,
    );
    const noun = results.length === 1 ? 'task' : 'tasks';
    const lines = [`${results.length} ${noun}${parts.length ? `: ${parts.join(', ')}` : ''}`];

    const failed = results.flatMap((result) => (result.status === 'failed' ? [result] : []));
    for (const { id, error } of failed.slice(0, MAX_FAILED_LISTED)) {
      const entry = failureLines(id, error.message, formatExit(error));
      for (const line of entry) lines.push(`  ${line}`);
    }
    const unlisted = failed.length - MAX_FAILED_LISTED;
    if (unlisted > 0) lines.push(`  … ${unlisted} more failed`);
    const cancelled = results.flatMap((result) => (result.status === 'cancelled' ? [result] : []));
    for (const result of cancelled.slice(0, MAX_FAILED_LISTED)) {
      const why = formatCancel(result.reason, result.prerequisite);
      lines.push(`  ${paint('yellow', '⊘')} ${result.id}: cancelled (${why})`);
    }
    const unlistedCancelled = cancelled.length - MAX_FAILED_LISTED;
    if (unlistedCancelled > 0) lines.push(`  … ${unlistedCancelled} more cancelled`);

    const status = table.runStatus();
    const start = table.startedAt() ?? firstTime;
    const end = table.completedAt() ?? lastTime;
    const took = formatDuration(start !== undefined && end !== undefined ? end - start : 0);
    const error = table.runError();
    const verdict =
      status === undefined ? `Run incomplete after ${took}` : `Run ${status} in ${took}`;
    const style: Style = status === 'done' ? 'green' : status === 'cancelled' ? 'yellow' : 'red';
    lines.push(paint('bold', paint(style, verdict)) + (error ? `: ${error}` : ''));
    return lines;
  };

  const finish = (): void => {
    finished = true;
    stopLive();
    write(`${summaryLines().join('\n')}\n`);
  };

  return {
    handle(event: TaskchartEvent) {
      if (closed || finished) return;
      table.apply(event);
      firstTime ??= event.time;
      lastTime = event.time;
      if (event.type === 'run.started') {
        for (const task of event.tasks) infos.set(task.id, task);
        return;
      }
      if (event.type === 'run.done') {
        finish();
        return;
      }
      showTask(event);
      changed();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!finished && firstTime !== undefined) finish();
      stopLive();
      if (!broken) await new Promise<void>((resolve) => stream.write('', () => resolve()));
      stream.off('error', onError);
    },
  };
}

function clamp(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}

/** Cuts `text` to `width` characters, ending with `…` when cut. */
function fit(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}
