import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TaskchartEvent } from '../../src/index.js';
import { trace } from '../helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/cli/main.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface TaskSummary {
  status: string;
  reason?: string;
  prerequisite?: string;
  error?: string;
  exitCode?: number;
  signal?: string;
  startedAt?: number;
  completedAt?: number;
}

interface Summary {
  status: string;
  error?: string;
  startedAt?: number;
  completedAt?: number;
  tasks: Record<string, TaskSummary>;
}

function start(args: string[]): ChildProcess {
  const env = { ...process.env };
  delete env['NO_COLOR'];
  return spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finish(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const runCli = (args: string[]): Promise<CliResult> => finish(start(args));

function readEvents(file: string): TaskchartEvent[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as TaskchartEvent);
}

let dir = '';
beforeAll(() => {
  expect(fs.existsSync(cli), `${cli} is missing; run npm run build first`).toBe(true);
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-cli-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a workflow file into the test's folder and returns its path. */
function workflow(text: string, name = 'workflow.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const at = (name: string): string => path.join(dir, name);

const failing = `name: failing
tasks:
  bad:
    description: Exit with code 3
    run: exit 3
  dep:
    needs: [bad]
    run: touch dep-ran
  ok:
    description: Succeed
    run: echo fine
`;

describe('taskchart run', () => {
  it('exits 0 when every task is done and shows the tasks output', async () => {
    const file = workflow(`tasks:
  hello:
    run: echo hello-from-task
  after:
    needs: [hello]
    run: echo after-hello > after.txt
`);
    const result = await runCli(['run', file]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('hello-from-task');
    expect(result.stdout).toMatch(/Run done in \d/);
    expect(fs.readFileSync(at('after.txt'), 'utf8')).toBe('after-hello\n');
  });

  it('exits 1 when a task fails, and the summary shows its dependents cancelled', async () => {
    const file = workflow(failing);
    const result = await runCli(['run', file, '--summary', at('out/summary.json')]);

    expect(result.code, result.stderr).toBe(1);
    expect(fs.existsSync(at('dep-ran'))).toBe(false);
    const summary = JSON.parse(fs.readFileSync(at('out/summary.json'), 'utf8')) as Summary;
    expect(summary).toEqual({
      status: 'failed',
      startedAt: expect.any(Number),
      completedAt: expect.any(Number),
      tasks: {
        bad: {
          status: 'failed',
          error: expect.any(String),
          exitCode: 3,
          startedAt: expect.any(Number),
          completedAt: expect.any(Number),
        },
        dep: {
          status: 'cancelled',
          reason: 'prerequisite',
          prerequisite: 'bad',
          completedAt: expect.any(Number),
        },
        ok: { status: 'done', startedAt: expect.any(Number), completedAt: expect.any(Number) },
      },
    });
    expect(summary.tasks['bad']?.error).toMatch(/3/);
  });

  it('exits 2 for an invalid workflow, naming file:line:column, and runs nothing', async () => {
    const file = workflow(`tasks:
  first:
    run: touch marker
  second:
    needs: [missing]
    run: touch marker
`);
    const result = await runCli(['run', file, '--summary', at('summary.json')]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:4:3`);
    expect(result.stderr).toContain('"missing"');
    expect(fs.existsSync(at('marker'))).toBe(false);
    expect(fs.existsSync(at('summary.json'))).toBe(false);
  });

  it('exits 2 for a file problem found while reading the YAML, with its position', async () => {
    const file = workflow(`tasks:
  first:
    run: touch marker
    retires: 3
`);
    const result = await runCli(['run', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:4:5`);
    expect(result.stderr).toContain('retires');
    expect(fs.existsSync(at('marker'))).toBe(false);
  });

  it('lets --max-parallel override the file: tasks then start one after another', async () => {
    const file = workflow(`maxParallel: 3
tasks:
  a:
    run: "true"
  b:
    run: "true"
  c:
    run: "true"
`);
    const free = await runCli(['run', file, '--events', at('free.jsonl')]);
    const limited = await runCli(['run', file, '--max-parallel', '1', '--events', at('one.jsonl')]);

    expect(free.code, free.stderr).toBe(0);
    expect(limited.code, limited.stderr).toBe(0);
    expect(trace(readEvents(at('free.jsonl'))).slice(0, 4)).toEqual([
      'run started',
      'started a',
      'started b',
      'started c',
    ]);
    expect(trace(readEvents(at('one.jsonl')))).toEqual([
      'run started',
      'started a',
      'done a',
      'started b',
      'done b',
      'started c',
      'done c',
      'run done',
    ]);
  });

  it('lets --fail-fast override the file: a failure stops a long task', async () => {
    const file = workflow(`failFast: false
tasks:
  slow:
    run: sleep 30
  bad:
    run: exit 1
  after:
    needs: [slow]
    run: touch after-ran
`);
    const result = await runCli(['run', file, '--fail-fast', '--summary', at('summary.json')]);

    expect(result.code, result.stderr).toBe(1);
    const summary = JSON.parse(fs.readFileSync(at('summary.json'), 'utf8')) as Summary;
    expect(summary.status).toBe('failed');
    expect(summary.tasks['slow']).toMatchObject({ status: 'cancelled', reason: 'fail-fast' });
    expect(summary.tasks['bad']).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(summary.tasks['after']).toMatchObject({ status: 'cancelled', reason: 'fail-fast' });
    expect(fs.existsSync(at('after-ran'))).toBe(false);
  });

  it('writes every event as a JSON line with time, type, id and status', async () => {
    const file = workflow(failing);
    const result = await runCli(['run', file, '--events', at('logs/events.jsonl')]);

    expect(result.code).toBe(1);
    const events = readEvents(at('logs/events.jsonl'));
    expect(events[0]?.type).toBe('run.started');
    expect(events.at(-1)).toMatchObject({ type: 'run.done', status: 'failed' });
    for (const event of events) {
      expect(event.time).toEqual(expect.any(Number));
      if (event.type === 'run.started' || event.type === 'run.done') continue;
      expect(event).toMatchObject({ id: expect.any(String), status: expect.any(String) });
    }
    const lines = trace(events);
    expect(lines).toEqual(
      expect.arrayContaining(['started bad', 'cancelled dep (prerequisite bad)', 'done ok']),
    );
    expect(lines.find((line) => line.startsWith('failed bad'))).toBeDefined();
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'task.log', id: 'ok', line: 'fine', stream: 'stdout' }),
    );
  });

  it('keeps every line and every failure reason of a wide run of quick commands', async () => {
    const count = 1100;
    const tasks = Array.from({ length: count }, (_, index) =>
      index % 10 === 9
        ? `  t${index}: { run: "echo oops-${index} >&2; exit 3" }\n`
        : `  t${index}: { run: "echo line-${index}" }\n`,
    );
    const file = workflow(`tasks:\n${tasks.join('')}`);
    const result = await runCli(['run', file, '--quiet', '--events', at('events.jsonl')]);

    expect(result.code, result.stderr).toBe(1);
    const events = readEvents(at('events.jsonl'));
    const lines = new Map<string, string>();
    const errors = new Map<string, string>();
    for (const event of events) {
      if (event.type === 'task.log') lines.set(event.id, event.line);
      if (event.type === 'task.failed') errors.set(event.id, event.error.message);
    }
    for (let index = 0; index < count; index++) {
      if (index % 10 === 9) {
        expect(errors.get(`t${index}`)).toBe(`exited with code 3: oops-${index}`);
      } else {
        expect(lines.get(`t${index}`)).toBe(`line-${index}`);
      }
    }
  }, 60_000);

  it('writes one log file per task with START and DONE or FAILED lines', async () => {
    const file = workflow(failing);
    const result = await runCli(['run', file, '--log-dir', at('logs')]);

    expect(result.code).toBe(1);
    const names = fs.readdirSync(at('logs'));
    const logs = names.map((name) => fs.readFileSync(path.join(at('logs'), name), 'utf8'));
    const ok = logs.find((text) => text.includes('ok: START:'));
    const bad = logs.find((text) => text.includes('bad: START:'));
    expect(ok).toMatch(/^INFO: ok: START: Succeed$/m);
    expect(ok).toMatch(/^INFO: ok: fine$/m);
    expect(ok).toMatch(/^INFO: ok: DONE$/m);
    expect(bad).toMatch(/^INFO: bad: START: Exit with code 3$/m);
    expect(bad).toMatch(/^ERROR: bad: FAILED: exited with code 3$/m);
  });

  it('prints only the summary with --quiet', async () => {
    const file = workflow(`tasks:
  a:
    run: echo chatter-a
  b:
    run: echo chatter-b
`);
    const result = await runCli(['run', file, '--quiet']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^2 tasks: 2 done\nRun done in \S+\n$/);
  });

  it('cancels the run on SIGINT, stops the running process and exits 130', async () => {
    const file = workflow(`tasks:
  long:
    run: echo $$ > pidfile; exec sleep 30
  after:
    needs: [long]
    run: touch after-ran
`);
    const child = start(['run', file, '--summary', at('summary.json')]);
    const result = finish(child);

    const pid = await pollForPid(at('pidfile'), child);
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGINT');
    const { code, stderr } = await result;

    expect(code, stderr).toBe(130);
    const summary = JSON.parse(fs.readFileSync(at('summary.json'), 'utf8')) as Summary;
    expect(summary.status).toBe('cancelled');
    expect(summary.tasks['long']).toMatchObject({ status: 'cancelled', reason: 'interrupted' });
    expect(summary.tasks['after']).toMatchObject({ status: 'cancelled', reason: 'interrupted' });
    expect(isAlive(pid)).toBe(false);
    expect(fs.existsSync(at('after-ran'))).toBe(false);
  });
});

describe('command line', () => {
  async function usage(): Promise<string> {
    const help = await runCli(['--help']);
    return help.stdout;
  }

  it.each([
    ['an unknown flag', ['run', 'FILE', '--bogus'], /--bogus/],
    ['a missing file argument', ['run'], /workflow file/],
    // Regression: the argument parser's three-line "ambiguous" message was passed through as is.
    ['a negative --max-parallel', ['run', 'FILE', '--max-parallel', '-1'], /--max-parallel/],
    ['a negative --max-parallel=', ['run', 'FILE', '--max-parallel=-1'], /--max-parallel.*-1/],
    ['a word for --max-parallel', ['run', 'FILE', '--max-parallel', 'abc'], /--max-parallel.*abc/],
    ['an unknown command', ['start', 'FILE'], /start/],
  ])(
    'exits 2 for %s, printing the usage and one line saying what is wrong',
    async (_, args, says) => {
      const file = workflow('tasks:\n  a:\n    run: touch marker\n');
      const result = await runCli(args.map((arg) => (arg === 'FILE' ? file : arg)));
      const text = await usage();

      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.startsWith(text)).toBe(true);
      const rest = result.stderr.slice(text.length);
      expect(rest).toMatch(/^\ntaskchart: [^\n]+\n$/);
      expect(rest).toMatch(says);
      expect(fs.existsSync(at('marker'))).toBe(false);
    },
  );

  it('prints the usage with --help and exits 0', async () => {
    const result = await runCli(['--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage:/);
    for (const flag of [
      '--max-parallel',
      '--fail-fast',
      '--log-dir',
      '--events',
      '--summary',
      '--quiet',
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'),
    ) as {
      version: string;
    };
    const result = await runCli(['--version']);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  });

  it('validates a good file without running it', async () => {
    const file = workflow(`tasks:
  a:
    run: touch marker
  g:
    tasks:
      x:
        run: touch marker
`);
    const result = await runCli(['validate', file]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${file}: valid, 3 task(s)\n`);
    expect(fs.existsSync(at('marker'))).toBe(false);
  });

  it('rejects a bad file in validate with exit 2 and every problem located', async () => {
    const file = workflow(`tasks:
  a:
    needs: [b]
    run: touch marker
  b:
    needs: [a]
    run: touch marker
  c:
    run: 42
`);
    const result = await runCli(['validate', file]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}:9:10`);
    expect(fs.existsSync(at('marker'))).toBe(false);
  });

  it('reports a cycle in validate as a chain of task ids at the first task', async () => {
    const file = workflow(`tasks:
  a:
    needs: [c]
    run: "true"
  b:
    needs: [a]
    run: "true"
  c:
    needs: [b]
    run: "true"
`);
    const result = await runCli(['validate', file]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:2:3`);
    expect(result.stderr).toContain('a → c → b → a');
  });
});

/** Waits until the task has written its shell's pid; polls the file the task itself creates. */
async function pollForPid(file: string, child: ChildProcess): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the CLI exited (${child.exitCode}) before the task wrote ${file}`);
    }
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (/^\d+\n$/.test(text)) return Number(text.trim());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
