/**
 * The real CLI against hostile input: broken workflow files, task ids that make awkward file
 * names, and tasks that print huge, binary or invalid UTF-8 output.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { logFileName, type TaskchartEvent } from '../../src/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/cli/main.js');
const TIME = '/usr/bin/time';

interface Exit {
  code: number | null;
  stderr: string;
  /** How many bytes the CLI wrote to stdout; the text itself is not kept. */
  stdoutBytes: number;
}

let dir = '';
beforeAll(() => {
  expect(fs.existsSync(cli), `${cli} is missing; run npm run build first`).toBe(true);
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-hostile-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = (name: string): string => path.join(dir, name);

/**
 * Runs `command args` in the test's folder; stdout is read and counted, as a pipe reader would,
 * starting `readerDelayMs` after the start to play a slow reader such as a pager.
 */
function execute(command: string, args: string[], readerDelayMs = 0): Promise<Exit> {
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.pause();
  child.stdout.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
  setTimeout(() => child.stdout.resume(), readerDelayMs);
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, stdoutBytes }));
  });
}

function runCli(workflow: string, args: string[] = []): Promise<Exit> {
  fs.writeFileSync(at('workflow.yaml'), workflow);
  return execute(process.execPath, [cli, 'run', at('workflow.yaml'), ...args]);
}

/** Like `runCli`, under `/usr/bin/time -v`; also gives the CLI's peak resident set size in MB. */
async function runMeasured(
  workflow: string,
  args: string[],
  readerDelayMs = 0,
): Promise<Exit & { peakMb: number }> {
  fs.writeFileSync(at('workflow.yaml'), workflow);
  const command = ['-v', process.execPath, cli, 'run', at('workflow.yaml'), ...args];
  const exit = await execute(TIME, command, readerDelayMs);
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(exit.stderr)?.[1];
  expect(kb, exit.stderr).toBeDefined();
  return { ...exit, peakMb: Number(kb) / 1024 };
}

function readEvents(file: string): TaskchartEvent[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  expect(lines.pop()).toBe('');
  return lines.map((line) => JSON.parse(line) as TaskchartEvent);
}

const MARKER = '  marker: { run: touch marker }\n';

describe('a hostile workflow file', () => {
  // Each case: a file (with a task that would touch `marker`), the line and column of the one
  // problem, and what its message says.
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'malformed YAML',
      `tasks:\n${MARKER}  b: { run: echo b\n  c: { run: echo c }\n`,
      '4:3',
      /invalid YAML: .+; fix the syntax here$/,
    ],
    [
      'a number as a command',
      `tasks:\n${MARKER}  b: { run: 5 }\n`,
      '3:13',
      /tasks\.b\.run: run must be a shell command, got 5$/,
    ],
    [
      'a mapping as needs',
      `tasks:\n${MARKER}  b: { run: x, needs: { a: b } }\n`,
      '3:23',
      /needs must be a task id or a list of task ids, got a mapping$/,
    ],
    [
      'a negative maxParallel',
      `maxParallel: -1\ntasks:\n${MARKER}`,
      '1:14',
      /maxParallel must be a whole number >= 0 \(0 = unlimited\), got -1$/,
    ],
    [
      'a fractional maxParallel',
      `maxParallel: 1.5\ntasks:\n${MARKER}`,
      '1:14',
      /maxParallel must be a whole number >= 0 \(0 = unlimited\), got 1\.5$/,
    ],
    [
      'an empty group',
      `tasks:\n${MARKER}  g: { tasks: {} }\n`,
      '3:15',
      /tasks\.g\.tasks: tasks must not be empty; add at least one task$/,
    ],
    [
      'forEach on a group',
      `tasks:\n${MARKER}  g: { tasks: { x: { run: "true" } } }\n  per: { forEach: g, run: "true" }\n`,
      '4:3',
      /per\.forEach: "g" is a group, not a producer; name a task with "run" that announces files$/,
    ],
    [
      'needs on a for-each instance',
      `tasks:\n${MARKER}  split: { run: "true" }\n  per: { forEach: split, run: "true" }\n  b: { run: x, needs: ["per[a.txt]"] }\n`,
      '5:24',
      /needs "per\[a\.txt\]" names a for-each instance; name the for-each task "per" instead$/,
    ],
    [
      'a timeout that is not a duration',
      `tasks:\n${MARKER}  b: { run: x, timeout: 5 sec }\n`,
      '3:25',
      /timeout must be a duration such as 500ms, 5s or 2m, got "5 sec"$/,
    ],
  ];

  it.each(cases)(
    '(%s) gets one located sentence, exit 2, and nothing runs',
    async (_name, text, position, message) => {
      const { code, stderr } = await runCli(`${text}`);

      expect(code, stderr).toBe(2);
      const lines = stderr.split('\n');
      expect(lines, stderr).toHaveLength(3);
      expect(lines[0]).toBe('taskchart: Invalid workflow:');
      expect(lines[1]?.startsWith(`  ${at('workflow.yaml')}:${position}: `), stderr).toBe(true);
      expect(lines[1]).toMatch(message);
      expect(lines[2]).toBe('');
      expect(fs.existsSync(at('marker'))).toBe(false);
    },
  );

  it('names both lines of a task defined twice', async () => {
    const { code, stderr } = await runCli(
      `tasks:\n${MARKER}  twice: { run: a }\n  twice: { run: b }\n`,
    );

    expect(code, stderr).toBe(2);
    const file = at('workflow.yaml');
    expect(stderr).toBe(
      `taskchart: Invalid workflow:\n  ${file}:4:3: tasks.twice: task "twice" is defined twice: first at ${file}:3:3; rename or remove one\n`,
    );
    expect(fs.existsSync(at('marker'))).toBe(false);
  });

  it('rejects an empty tasks mapping at its position', async () => {
    const { code, stderr } = await runCli('tasks: {}\n');

    expect(code, stderr).toBe(2);
    expect(stderr).toBe(
      `taskchart: Invalid workflow:\n  ${at('workflow.yaml')}:1:8: tasks: tasks must not be empty; add at least one task\n`,
    );
  });
});

describe('task ids as log file names', () => {
  it('gives every id its own log file inside --log-dir, found again by logFileName', async () => {
    const ids = [
      'with spaces',
      'ünïcødé 日本語',
      '..',
      '.',
      'Case',
      'case',
      'a b',
      'a_b',
      'x'.repeat(300),
    ];
    const tasks = ids.map((id) => `  ${JSON.stringify(id)}: { run: 'echo "$TASKCHART_TASK_ID"' }`);

    const { code, stderr } = await runCli(`tasks:\n${tasks.join('\n')}\n`, ['--log-dir', 'logs']);

    expect(code, stderr).toBe(0);
    const names = ids.map(logFileName);
    expect(new Set(names).size).toBe(ids.length);
    expect(fs.readdirSync(at('logs')).sort()).toEqual([...names].sort());
    for (const id of ids) {
      const log = fs.readFileSync(path.join(at('logs'), logFileName(id)), 'utf8');
      expect(log).toBe(`INFO: ${id}: START: ${id}\nINFO: ${id}: ${id}\nINFO: ${id}: DONE\n`);
    }
  });
});

describe('huge and hostile output', () => {
  it('runs a task printing one 200 MB line with bounded memory', async () => {
    const workflow = `tasks:\n  giant: { run: "head -c 200000000 /dev/zero | tr '\\\\0' a" }\n`;

    const { code, stderr, peakMb } = await runMeasured(workflow, [
      '--log-dir',
      'logs',
      '--events',
      'events.jsonl',
    ]);

    expect(code, stderr).toBe(0);
    expect(peakMb).toBeLessThan(400);
    const log = fs.statSync(path.join(at('logs'), logFileName('giant')));
    expect(log.size).toBeGreaterThan(200_000_000);
  }, 30_000);

  it('keeps memory bounded when the reader of stdout is slow', async () => {
    // Regression: Node queued every terminal line written to a pipe in memory until the reader
    // took it (700 MB for this case); stdout now blocks on a full pipe, as on a terminal.
    const workflow = `tasks:\n  giant: { run: "head -c 200000000 /dev/zero | tr '\\\\0' a" }\n`;

    const { code, stderr, peakMb, stdoutBytes } = await runMeasured(workflow, [], 3000);

    expect(code, stderr).toBe(0);
    expect(stdoutBytes).toBeGreaterThan(200_000_000);
    expect(peakMb).toBeLessThan(400);
  }, 30_000);

  it('runs a task printing 200 MB as 200,000 lines of 1 KB with bounded memory', async () => {
    const line = 'b'.repeat(999);
    const workflow = `tasks:\n  lines: { run: "yes ${line} | head -c 200000000" }\n`;

    const { code, stderr, peakMb } = await runMeasured(workflow, [
      '--log-dir',
      'logs',
      '--events',
      'events.jsonl',
    ]);

    expect(code, stderr).toBe(0);
    expect(peakMb).toBeLessThan(400);
    const events = fs.readFileSync(at('events.jsonl'), 'utf8');
    expect(events.endsWith('"status":"done"}\n')).toBe(true);
  }, 30_000);

  it('runs a task printing a million short lines with bounded memory', async () => {
    const workflow = 'tasks:\n  many: { run: "yes | head -c 2000000" }\n';

    const { code, stderr, peakMb } = await runMeasured(workflow, [
      '--log-dir',
      'logs',
      '--events',
      'events.jsonl',
    ]);

    expect(code, stderr).toBe(0);
    expect(peakMb).toBeLessThan(400);
    const lines = readEvents(at('events.jsonl')).filter((event) => event.type === 'task.log');
    expect(lines).toHaveLength(1_000_000);
  }, 30_000);

  it('survives binary output and invalid UTF-8, and every event stays valid JSON', async () => {
    const workflow =
      'tasks:\n  noise: { run: "head -c 1000000 /dev/urandom; head -c 1000 /dev/zero" }\n';

    const { code, stderr } = await runCli(workflow, [
      '--log-dir',
      'logs',
      '--events',
      'events.jsonl',
    ]);

    expect(code, stderr).toBe(0);
    const events = readEvents(at('events.jsonl'));
    expect(events.at(-1)).toMatchObject({ type: 'run.done', status: 'done' });
    const output = events.filter((event) => event.type === 'task.log');
    expect(output.length).toBeGreaterThan(0);
    expect(output.some((event) => event.line.includes('\uFFFD'))).toBe(true);
    expect(fs.readFileSync(path.join(at('logs'), logFileName('noise')), 'utf8')).toMatch(
      /INFO: noise: DONE\n$/,
    );
  }, 30_000);
});
