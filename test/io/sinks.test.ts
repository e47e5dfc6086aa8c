import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEventLog } from '../../src/io/event-log.js';
import { createLogFiles, logFileName } from '../../src/io/log-files.js';
import { fanOut, type Sink } from '../../src/io/sink.js';
import { createSummary } from '../../src/io/summary.js';
import type { TaskchartEvent } from '../../src/types.js';
import { info, log, progress } from './events.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-sinks-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** fetch and convert run interleaved; convert fails; report is cancelled because of it. */
function smallRun(): TaskchartEvent[] {
  return [
    {
      type: 'run.started',
      time: 1000,
      name: 'demo',
      tasks: [
        info('fetch', 'Fetch data'),
        info('convert', 'Convert'),
        info('report', 'Report', ['convert']),
      ],
    },
    { type: 'task.started', time: 1001, id: 'fetch', status: 'running' },
    { type: 'task.started', time: 1002, id: 'convert', status: 'running' },
    log(1003, 'fetch', 'info', 'get 1', 'stdout'),
    log(1004, 'convert', 'detail', 'reading'),
    progress(1005, 'fetch', 0.5, 'half way'),
    log(1006, 'convert', 'info', 'oops', 'stderr'),
    { type: 'task.file', time: 1007, id: 'fetch', status: 'running', path: 'data/a.json' },
    log(1008, 'fetch', 'debug', 'two\nlines'),
    {
      type: 'task.failed',
      time: 1009,
      id: 'convert',
      status: 'failed',
      error: { message: 'convert exited with code 3', exitCode: 3 },
    },
    { type: 'task.done', time: 1010, id: 'fetch', status: 'done' },
    {
      type: 'task.cancelled',
      time: 1011,
      id: 'report',
      status: 'cancelled',
      reason: 'prerequisite',
      prerequisite: 'convert',
    },
    { type: 'run.done', time: 1012, status: 'failed' },
  ];
}

function feed(sink: Sink, events: TaskchartEvent[]): void {
  for (const event of events) sink.handle(event);
}

describe('createEventLog', () => {
  it('writes one JSON line per event that parses back to the same events', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'events.jsonl');
    const log = createEventLog(file);
    const events = smallRun();
    feed(log, events);
    await log.close();

    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(events);
  });

  it('writes 100,000 events completely and in order', async () => {
    const file = path.join(dir, 'events.jsonl');
    const log = createEventLog(file);
    const count = 100_000;
    for (let index = 0; index < count; index++) {
      log.handle({
        type: 'task.log',
        time: index,
        id: `task-${index % 7}`,
        status: 'running',
        level: 'info',
        line: `line ${index} ünïcödé`,
      });
    }
    await log.close();

    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(count);
    const parsed = lines.map((line) => JSON.parse(line) as { time: number; line: string });
    const times = Array.from({ length: count }, (_, index) => index);
    expect(parsed.map((event) => event.time)).toEqual(times);
    expect(parsed.at(-1)?.line).toBe(`line ${count - 1} ünïcödé`);
  });

  it('truncates an existing file when created', async () => {
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, 'stale content from an earlier run\n');
    const log = createEventLog(file);
    log.handle({ type: 'run.done', time: 5, status: 'done' });
    await log.close();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"type":"run.done","time":5,"status":"done"}\n');
  });
});

describe('createLogFiles', () => {
  const read = (logDir: string, id: string): string[] =>
    fs
      .readFileSync(path.join(logDir, logFileName(id)), 'utf8')
      .trimEnd()
      .split('\n');

  it('writes each task its own lines and nothing of another task', async () => {
    const logDir = path.join(dir, 'logs');
    const sink = createLogFiles(logDir);
    feed(sink, smallRun());
    await sink.close();

    expect(read(logDir, 'fetch')).toEqual([
      'INFO: fetch: START: Fetch data',
      'INFO: fetch: get 1',
      'DETAIL: fetch: PROGRESS: 50% half way',
      'INFO: fetch: FILE: data/a.json',
      'DEBUG: fetch: two',
      'DEBUG: fetch: lines',
      'INFO: fetch: DONE',
    ]);
    expect(read(logDir, 'convert')).toEqual([
      'INFO: convert: START: Convert',
      'DETAIL: convert: reading',
      'INFO: convert: stderr: oops',
      'ERROR: convert: FAILED: convert exited with code 3',
    ]);
    expect(read(logDir, 'report')).toEqual(['INFO: report: CANCELLED: prerequisite convert']);
    expect(fs.readdirSync(logDir).sort()).toEqual(
      ['fetch', 'convert', 'report'].map(logFileName).sort(),
    );
  });

  it('keeps every line of a task that logs past the buffer size, in order', async () => {
    const logDir = path.join(dir, 'logs');
    fs.mkdirSync(logDir);
    fs.writeFileSync(path.join(logDir, logFileName('big')), 'stale line\n');
    const sink = createLogFiles(logDir);
    sink.handle({ type: 'task.started', time: 0, id: 'big', status: 'running' });
    const count = 20_000;
    for (let index = 0; index < count; index++) {
      sink.handle(log(index, 'big', 'info', `n${index}`));
    }
    sink.handle({ type: 'task.done', time: count, id: 'big', status: 'done' });
    await sink.close();

    const lines = read(logDir, 'big');
    expect(lines).toHaveLength(count + 2);
    expect(lines[0]).toBe('INFO: big: START');
    const expected = Array.from({ length: count }, (_, index) => `INFO: big: n${index}`);
    expect(lines.slice(1, -1)).toEqual(expected);
    expect(lines.at(-1)).toBe('INFO: big: DONE');
  });

  it('writes the lines of a task that never ends at close', async () => {
    const logDir = path.join(dir, 'logs');
    const sink = createLogFiles(logDir);
    sink.handle({ type: 'task.started', time: 0, id: 'slow', status: 'running' });
    sink.handle({ type: 'task.progress', time: 1, id: 'slow', status: 'running', fraction: 0.25 });
    expect(fs.existsSync(path.join(logDir, logFileName('slow')))).toBe(false);
    await sink.close();
    expect(read(logDir, 'slow')).toEqual(['INFO: slow: START', 'DETAIL: slow: PROGRESS: 25%']);
  });
});

describe('logFileName', () => {
  const tricky = [
    'a/b',
    'a_b',
    'a:b',
    '../x',
    '..',
    '.hidden',
    '-rf',
    'x',
    'X',
    'Build',
    'build',
    'convert[a b.txt]',
    'convert[a_b.txt]',
    'données/été',
    'データ',
    '🙂',
    '',
    'x'.repeat(500),
    `${'x'.repeat(499)}y`,
    `y${'x'.repeat(499)}`,
  ];

  it('gives distinct ids distinct names, even ignoring case', () => {
    const names = tricky.map(logFileName);
    expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(tricky.length);
  });

  it('makes names that are safe, short and stable', () => {
    for (const id of tricky) {
      const name = logFileName(id);
      expect(name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*-[0-9a-f]{10}\.log$/);
      expect(name.length).toBeLessThanOrEqual(100);
      expect(logFileName(id)).toBe(name);
    }
    expect(logFileName('fetch data')).toMatch(/^fetch_data-[0-9a-f]{10}\.log$/);
  });

  it('names files that can all be created in one directory', () => {
    for (const id of tricky) fs.writeFileSync(path.join(dir, logFileName(id)), id);
    expect(fs.readdirSync(dir)).toHaveLength(tricky.length);
    for (const id of tricky) {
      expect(fs.readFileSync(path.join(dir, logFileName(id)), 'utf8')).toBe(id);
    }
  });
});

describe('createSummary', () => {
  it('writes the status of every task at run.done', () => {
    const file = path.join(dir, 'out', 'summary.json');
    const sink = createSummary(file);
    const events = smallRun();
    events.splice(-1, 0, {
      type: 'task.failed',
      time: 1011,
      id: 'killed',
      status: 'failed',
      error: { message: 'killed by SIGKILL', signal: 'SIGKILL' },
    });
    feed(sink, events);

    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('\n  "status"');
    expect(JSON.parse(text)).toEqual({
      status: 'failed',
      startedAt: 1000,
      completedAt: 1012,
      tasks: {
        fetch: { status: 'done', startedAt: 1001, completedAt: 1010 },
        convert: {
          status: 'failed',
          error: 'convert exited with code 3',
          exitCode: 3,
          startedAt: 1002,
          completedAt: 1009,
        },
        report: {
          status: 'cancelled',
          reason: 'prerequisite',
          prerequisite: 'convert',
          completedAt: 1011,
        },
        killed: {
          status: 'failed',
          error: 'killed by SIGKILL',
          signal: 'SIGKILL',
          completedAt: 1011,
        },
      },
    });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['summary.json']);
  });

  it('keeps the run error and says so when a run closes unfinished', async () => {
    const file = path.join(dir, 'summary.json');
    const done = createSummary(file);
    feed(done, [
      { type: 'run.started', time: 0, tasks: [info('a')] },
      { type: 'run.done', time: 9, status: 'failed', error: 'a can never start' },
    ]);
    await done.close();
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      status: 'failed',
      error: 'a can never start',
      startedAt: 0,
      completedAt: 9,
      tasks: { a: { status: 'scheduled' } },
    });

    const unfinished = createSummary(file);
    feed(unfinished, [
      { type: 'run.started', time: 0, tasks: [info('a')] },
      { type: 'task.started', time: 4, id: 'a', status: 'running' },
    ]);
    await unfinished.close();
    const summary = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(summary['status']).toBe('failed');
    expect(summary['error']).toMatch(/without a run\.done event/);
    expect(summary['completedAt']).toBe(4);
    expect(summary['tasks']).toEqual({ a: { status: 'running', startedAt: 4 } });
  });
});

describe('fanOut', () => {
  const recorder = (): Sink & { seen: string[]; closed: boolean } => {
    const sink = {
      seen: [] as string[],
      closed: false,
      handle(event: TaskchartEvent) {
        sink.seen.push(event.type);
      },
      async close() {
        sink.closed = true;
      },
    };
    return sink;
  };

  it('keeps delivering to and closing every sink when one throws', async () => {
    const first = recorder();
    const last = recorder();
    const broken: Sink = {
      handle() {
        throw new Error('handle broke');
      },
      close() {
        throw new Error('close broke');
      },
    };
    const errors: Array<[string, number]> = [];
    const sink = fanOut([first, broken, last], (err, index) => {
      errors.push([(err as Error).message, index]);
    });
    feed(sink, smallRun().slice(0, 2));
    await sink.close();

    expect(first.seen).toEqual(['run.started', 'task.started']);
    expect(last.seen).toEqual(['run.started', 'task.started']);
    expect(first.closed && last.closed).toBe(true);
    expect(errors).toEqual([
      ['handle broke', 1],
      ['handle broke', 1],
      ['close broke', 1],
    ]);
  });

  it('swallows errors without a handler, and a handler that throws', async () => {
    const last = recorder();
    const rejecting: Sink = {
      handle() {
        throw new Error('no');
      },
      close: () => Promise.reject(new Error('no')),
    };
    const quiet = fanOut([rejecting, last]);
    quiet.handle({ type: 'run.done', time: 0, status: 'done' });
    await expect(quiet.close()).resolves.toBeUndefined();

    const loud = fanOut([rejecting, last], () => {
      throw new Error('handler broke');
    });
    loud.handle({ type: 'run.done', time: 0, status: 'done' });
    await expect(loud.close()).resolves.toBeUndefined();
    expect(last.seen).toEqual(['run.done', 'run.done']);
  });
});
