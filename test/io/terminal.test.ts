import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTerminal, type TerminalOptions } from '../../src/io/terminal.js';
import type { TaskchartEvent } from '../../src/types.js';
import { info, log, progress } from './events.js';

type Tty = { isTTY?: boolean; columns?: number; rows?: number };

/** A stream that collects what is written to it. */
function fakeStream(tty: Tty = {}) {
  const collected = { text: '' };
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        collected.text += chunk.toString();
        callback();
      },
    }),
    tty,
  );
  return { stream, collected };
}

function smallRun(): TaskchartEvent[] {
  return [
    {
      type: 'run.started',
      time: 1000,
      tasks: [info('fetch', 'Fetch data'), info('build', 'Build'), info('test', 'Test', ['build'])],
    },
    { type: 'task.started', time: 1000, id: 'fetch', status: 'running' },
    log(1100, 'fetch', 'info', 'downloading', 'stdout'),
    log(1150, 'fetch', 'detail', 'headers ok'),
    progress(1200, 'fetch', 0.5, 'half'),
    progress(1210, 'fetch', 0.501, 'half'),
    { type: 'task.file', time: 1300, id: 'fetch', status: 'running', path: 'data.json' },
    { type: 'task.done', time: 2200, id: 'fetch', status: 'done' },
    { type: 'task.started', time: 2200, id: 'build', status: 'running' },
    {
      type: 'task.failed',
      time: 2500,
      id: 'build',
      status: 'failed',
      error: { message: 'compile error', exitCode: 2 },
    },
    {
      type: 'task.cancelled',
      time: 2500,
      id: 'test',
      status: 'cancelled',
      reason: 'prerequisite',
      prerequisite: 'build',
    },
    { type: 'run.done', time: 3400, status: 'failed' },
  ];
}

const SUMMARY = [
  '3 tasks: 1 done, 1 failed, 1 cancelled',
  '  ✗ build: compile error (exit 2)',
  '  ⊘ test: cancelled (prerequisite build)',
  'Run failed in 2.4s',
];

async function report(
  events: TaskchartEvent[],
  options: Omit<TerminalOptions, 'stream'>,
  tty: Tty = {},
): Promise<string> {
  const { stream, collected } = fakeStream(tty);
  const terminal = createTerminal({ stream, ...options });
  for (const event of events) terminal.handle(event);
  await terminal.close();
  return collected.text;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createTerminal in plain mode', () => {
  it('prints one line per event worth showing and a summary', async () => {
    const text = await report(smallRun(), { live: false, color: false });
    expect(text.split('\n')).toEqual([
      '▶ fetch: Fetch data',
      'fetch | downloading',
      '… fetch 50% half',
      '✓ fetch (1.2s)',
      '▶ build: Build',
      '✗ build: compile error (exit 2)',
      '⊘ test: cancelled (prerequisite build)',
      ...SUMMARY,
      '',
    ]);
  });

  it('adds detail lines and produced files when verbose', async () => {
    const text = await report(smallRun(), { live: false, color: false, verbose: true });
    const lines = [
      'fetch | downloading',
      'fetch | headers ok',
      '… fetch 50% half',
      '↳ fetch: data.json',
    ];
    expect(text).toContain(`${lines.join('\n')}\n`);
  });

  it('prints only the summary when quiet', async () => {
    const tty = { isTTY: true, columns: 80 };
    const text = await report(smallRun(), { quiet: true, color: false }, tty);
    expect(text).toBe(`${SUMMARY.join('\n')}\n`);
  });

  it('writes no escape codes when color is off or NO_COLOR is set', async () => {
    const plain = await report(smallRun(), { live: false, color: false }, { isTTY: true });
    expect(plain).not.toContain('\u001b');

    vi.stubEnv('NO_COLOR', '1');
    vi.stubEnv('CI', '1');
    const text = await report(smallRun(), {}, { isTTY: true });
    expect(text).not.toContain('\u001b');
    expect(text).toContain('✓ fetch (1.2s)');
  });

  it('colors its symbols when color is on', async () => {
    const text = await report(smallRun(), { live: false, color: true });
    expect(text).toContain('\u001b[32m✓\u001b[0m fetch');
    expect(text).toContain('\u001b[31m✗\u001b[0m build');
  });

  it('ignores unknown ids, odd orders and events after run.done', async () => {
    const events: TaskchartEvent[] = [
      { type: 'task.done', time: 5, id: 'ghost', status: 'done' },
      { type: 'task.progress', time: 6, id: 'nobody', status: 'running', fraction: Number.NaN },
      { type: 'task.cancelled', time: 7, id: 'never', status: 'cancelled', reason: 'interrupted' },
      { type: 'run.done', time: 8, status: 'cancelled' },
      { type: 'task.started', time: 9, id: 'late', status: 'running' },
    ];
    const text = await report(events, { live: false, color: false });
    expect(text.split('\n')).toEqual([
      '✓ ghost',
      '… nobody 0%',
      '⊘ never: cancelled (interrupted)',
      '2 tasks: 1 done, 1 cancelled',
      '  ⊘ never: cancelled (interrupted)',
      'Run cancelled in 0.0s',
      '',
    ]);
  });

  it('keeps going without throwing when the stream fails', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('EPIPE'));
      },
    });
    const terminal = createTerminal({ stream, live: false, color: false });
    for (const event of smallRun()) terminal.handle(event);
    await expect(terminal.close()).resolves.toBeUndefined();
    expect(stream.listenerCount('error')).toBe(0);
  });

  it('prints the summary at close when run.done never came', async () => {
    const text = await report(smallRun().slice(0, 2), { quiet: true, color: false });
    expect(text).toBe('3 tasks: 1 running, 2 scheduled\nRun incomplete after 0.0s\n');
  });
});

describe('createTerminal in live mode', () => {
  it('redraws a block of running tasks and ends with the summary', async () => {
    let now = 0;
    const { stream, collected } = fakeStream({ isTTY: true, columns: 60, rows: 20 });
    const terminal = createTerminal({ stream, live: true, color: false, clock: () => now });
    for (const event of smallRun()) {
      now += 150;
      terminal.handle(event);
      if (event.type === 'task.progress') {
        expect(collected.text).toMatch(/█{6}░{6}  50% fetch: half\n$/);
      }
    }
    await terminal.close();

    const text = collected.text;
    expect(text).toContain('\u001b[1A\r\u001b[0J');
    expect(text).toContain('fetch | downloading\n');
    expect(text).toContain('✗ build: compile error (exit 2)\n');
    expect(text).not.toContain('▶ fetch');
    const ending = [
      '\u001b[1A\r\u001b[0J✗ build: compile error (exit 2)',
      '⊘ test: cancelled (prerequisite build)',
      ...SUMMARY,
      '',
    ];
    expect(text.endsWith(ending.join('\n'))).toBe(true);
    for (const line of text.split('\n')) {
      expect(line.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').length).toBeLessThan(60);
    }
  });

  it('is the default on a TTY outside CI and stays off under CI', async () => {
    vi.stubEnv('CI', '');
    expect(await report(smallRun(), { color: false }, { isTTY: true })).toContain('\u001b[');
    vi.stubEnv('CI', 'true');
    expect(await report(smallRun(), { color: false }, { isTTY: true })).not.toContain('\u001b[');
  });
});
