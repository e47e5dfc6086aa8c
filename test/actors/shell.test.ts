import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  killAllProcesses,
  MAX_LINE_BYTES,
  runShell,
  type ShellOptions,
} from '../../src/actors/shell.js';
import { TaskProcessError } from '../../src/errors.js';
import type { TaskContext } from '../../src/types.js';

interface Recorded {
  output: Array<[string, 'stdout' | 'stderr']>;
  progress: Array<[number, string | undefined]>;
  produce: string[];
}

/** A TaskContext that records every call; `nextOutput` resolves on the next matching line. */
function fakeContext(fields: { id?: string; item?: string } = {}) {
  const controller = new AbortController();
  const calls: Recorded = { output: [], progress: [], produce: [] };
  const waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const ignore = (): void => undefined;
  const ctx: TaskContext = {
    id: fields.id ?? 'task',
    signal: controller.signal,
    ...(fields.item === undefined ? {} : { item: fields.item }),
    log: { info: ignore, detail: ignore, debug: ignore },
    progress: (fraction, message) => calls.progress.push([fraction, message]),
    produce: (item) => calls.produce.push(item),
    output: (line, stream) => {
      calls.output.push([line, stream]);
      for (const waiter of waiters.splice(0)) {
        if (waiter.test(line)) waiter.resolve(line);
        else waiters.push(waiter);
      }
    },
  };
  const nextOutput = (test: (line: string) => boolean): Promise<string> =>
    new Promise((resolve) => waiters.push({ test, resolve }));
  return { ctx, calls, controller, nextOutput };
}

/** Runs `command` and returns what the runner rejected with. */
async function failure(
  command: string,
  ctx: TaskContext,
  options: Omit<ShellOptions, 'command'> = {},
): Promise<unknown> {
  return Promise.resolve(shell(command, options)(ctx)).then(
    () => expect.fail(`expected \`${command}\` to fail`),
    (caught: unknown) => caught,
  );
}

function lines(calls: Recorded, stream: 'stdout' | 'stderr'): string[] {
  return calls.output.filter(([, from]) => from === stream).map(([line]) => line);
}

/**
 * Processes of a group that are still alive. Zombies do not count: they have exited and merely
 * wait for a parent (possibly an init that never reaps) to collect them.
 */
function liveMembers(pgid: number): number[] {
  if (!fs.existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return [];
      throw error;
    }
  }
  const live: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') live.push(Number(entry));
  }
  return live;
}

/** Generous bound for waiting on processes to die; the test timeout is the real limit. */
const SETTLE = { timeout: 4000, interval: 20 };

let dir: string;
const strays: number[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-shell-'));
});

afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function shell(command: string, options: Omit<ShellOptions, 'command'> = {}) {
  return runShell({ baseDir: dir, command, ...options });
}

describe('runShell exit status', () => {
  it('resolves when the command exits with code 0', async () => {
    const { ctx } = fakeContext();
    await expect(shell('true')(ctx)).resolves.toBeUndefined();
  });

  it('rejects with the exit code when the command exits non-zero', async () => {
    const { ctx } = fakeContext();
    const error = await failure('exit 3', ctx);
    expect(error).toBeInstanceOf(TaskProcessError);
    expect(error).toMatchObject({ message: 'exited with code 3', exitCode: 3 });
    expect(error).toMatchObject({ code: 'TASK_FAILED' });
    expect((error as TaskProcessError).signal).toBeUndefined();
  });

  it('says the last line the command wrote to stderr in its error', async () => {
    const { ctx } = fakeContext();
    const error = await failure('echo "first" >&2; echo "disk full" >&2; echo ok; exit 4', ctx);
    expect(error).toMatchObject({ message: 'exited with code 4: disk full', exitCode: 4 });
  });

  it('rejects with the signal name when the command is killed by a signal', async () => {
    const { ctx } = fakeContext();
    const error = await failure('kill -TERM $$', ctx);
    expect(error).toBeInstanceOf(TaskProcessError);
    expect(error).toMatchObject({ message: 'killed by SIGTERM', signal: 'SIGTERM' });
    expect((error as TaskProcessError).exitCode).toBeUndefined();
  });

  it('rejects with a TaskProcessError naming a missing working directory', async () => {
    const { ctx } = fakeContext({ id: 'build' });
    const missing = path.join(dir, 'missing');
    const error = await failure('true', ctx, { cwd: 'missing' });
    expect(error).toBeInstanceOf(TaskProcessError);
    expect((error as TaskProcessError).exitCode).toBe(127);
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toContain('"build"');
    expect((error as Error).message).toContain('does not exist');
  });

  it('rejects with the error a context callback threw, once the process has exited', async () => {
    const { ctx } = fakeContext();
    const failure = new Error('listener broke');
    ctx.output = () => {
      throw failure;
    };
    const marker = path.join(dir, 'after');
    await expect(shell(`echo one; touch ${marker}`)(ctx)).rejects.toBe(failure);
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('refuses a negative graceMs', () => {
    expect(() => shell('true', { graceMs: -1 })).toThrow(/graceMs/);
  });
});

describe('runShell output', () => {
  it('keeps stdout and stderr lines apart, even when they interleave', async () => {
    const { ctx, calls } = fakeContext();
    const command = [
      'echo out1',
      'echo err1 >&2',
      "printf 'par'",
      'echo err2 >&2',
      'echo tial',
      "printf 'e\\n' >&2",
    ];
    await shell(command.join('; '))(ctx);
    expect(lines(calls, 'stdout')).toEqual(['out1', 'partial']);
    expect(lines(calls, 'stderr')).toEqual(['err1', 'err2', 'e']);
  });

  it('delivers a last line that has no newline', async () => {
    const { ctx, calls } = fakeContext();
    await shell("printf 'first\\nlast'; printf 'tail' >&2")(ctx);
    expect(calls.output).toEqual([
      ['first', 'stdout'],
      ['last', 'stdout'],
      ['tail', 'stderr'],
    ]);
  });

  it('removes the carriage return of CRLF line endings', async () => {
    const { ctx, calls } = fakeContext();
    await shell("printf 'a\\r\\nb\\r\\n\\r\\n'")(ctx);
    expect(lines(calls, 'stdout')).toEqual(['a', 'b', '']);
  });

  it('decodes invalid UTF-8 into replacement characters', async () => {
    const { ctx, calls } = fakeContext();
    await shell("printf '\\377\\376abc\\n'; printf 'caf\\303\\251\\n'")(ctx);
    expect(lines(calls, 'stdout')).toEqual(['\uFFFD\uFFFDabc', 'café']);
  });

  it('cuts a 200 KB line into 64 KiB pieces', async () => {
    const { ctx, calls } = fakeContext();
    await shell("head -c 204800 /dev/zero | tr '\\000' a; echo; echo next")(ctx);
    const out = lines(calls, 'stdout');
    const max = MAX_LINE_BYTES;
    expect(out.map((line) => line.length)).toEqual([max, max, max, 204800 - 3 * max, 4]);
    expect(out.slice(0, 4).join('')).toBe('a'.repeat(204800));
    expect(out[4]).toBe('next');
  });

  it('does not cut a line of exactly 64 KiB that ends in CRLF', async () => {
    const { ctx, calls } = fakeContext();
    await shell(`head -c ${MAX_LINE_BYTES} /dev/zero | tr '\\000' b; printf '\\r\\n'`)(ctx);
    expect(lines(calls, 'stdout')).toEqual(['b'.repeat(MAX_LINE_BYTES)]);
  });

  it('cuts long lines between characters, never inside one', async () => {
    const { ctx, calls } = fakeContext();
    const text = `x${'é'.repeat(100_000)}`;
    fs.writeFileSync(path.join(dir, 'long.txt'), `${text}\n`);
    await shell('cat long.txt')(ctx);
    const out = lines(calls, 'stdout');
    expect(out.length).toBeGreaterThan(1);
    expect(out.every((piece) => Buffer.byteLength(piece) <= MAX_LINE_BYTES)).toBe(true);
    expect(out.join('')).toBe(text);
  });

  it('does not read directives out of the pieces of a cut line', async () => {
    const { ctx, calls } = fakeContext();
    const line = `${'a'.repeat(MAX_LINE_BYTES)}::file cut.txt`;
    fs.writeFileSync(path.join(dir, 'long.txt'), `${line}\n`);
    await shell('cat long.txt')(ctx);
    expect(calls.produce).toEqual([]);
    expect(lines(calls, 'stdout')).toEqual(['a'.repeat(MAX_LINE_BYTES), '::file cut.txt']);
  });
});

describe('runShell directives', () => {
  it('turns ::progress lines into progress calls', async () => {
    const { ctx, calls } = fakeContext();
    const command = ['::progress 50 halfway', '::progress 100', '::progress 12.5 a bit more'];
    await shell(command.map((line) => `echo "${line}"`).join('; '))(ctx);
    expect(calls.progress).toEqual([
      [0.5, 'halfway'],
      [1, undefined],
      [0.125, 'a bit more'],
    ]);
    expect(calls.output).toEqual([]);
  });

  it('passes malformed ::progress lines through as output', async () => {
    const { ctx, calls } = fakeContext();
    const printed = ['::progress lots', '::progress 150 too far', '::progress -5', '::progress'];
    await shell(printed.map((line) => `echo "${line}"`).join('; '))(ctx);
    expect(calls.progress).toEqual([]);
    expect(lines(calls, 'stdout')).toEqual(printed);
  });

  it('reads directives on stdout only', async () => {
    const { ctx, calls } = fakeContext();
    await shell('echo "::progress 50" >&2; echo "::file x.txt" >&2')(ctx);
    expect(calls.progress).toEqual([]);
    expect(calls.produce).toEqual([]);
    expect(lines(calls, 'stderr')).toEqual(['::progress 50', '::file x.txt']);
  });

  it('turns ::file paths into items relative to baseDir, resolved from the task cwd', async () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    const { ctx, calls } = fakeContext();
    const outside = path.join(os.tmpdir(), 'elsewhere', 'b.txt');
    const printed = ['::file out/a.txt', '::file ../top.txt', `::file ${outside}`, '::file'];
    await shell(printed.map((line) => `echo "${line}"`).join('; '), { cwd: 'sub' })(ctx);
    expect(calls.produce).toEqual(['sub/out/a.txt', 'top.txt', outside]);
    expect(lines(calls, 'stdout')).toEqual(['::file']);
  });
});

describe('runShell environment', () => {
  it('passes the task id, the item as an absolute path and the extra variables', async () => {
    const { ctx, calls } = fakeContext({ id: 'resize[photos/a.jpg]', item: 'photos/a.jpg' });
    const command = 'echo "$TASKCHART_TASK_ID|$TASKCHART_FILE|$GREETING"';
    await shell(command, { env: { GREETING: 'hello' } })(ctx);
    const file = path.join(dir, 'photos/a.jpg');
    expect(lines(calls, 'stdout')).toEqual([`resize[photos/a.jpg]|${file}|hello`]);
  });

  it('runs in cwd resolved against baseDir', async () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    const { ctx, calls } = fakeContext();
    await shell('pwd -P', { cwd: 'sub' })(ctx);
    expect(lines(calls, 'stdout')).toEqual([fs.realpathSync(path.join(dir, 'sub'))]);
  });

  it('leaves TASKCHART_FILE unset without an item', async () => {
    const { ctx, calls } = fakeContext();
    await shell('echo "[${TASKCHART_FILE-unset}]"')(ctx);
    expect(lines(calls, 'stdout')).toEqual(['[unset]']);
  });
});

describe('runShell abort', () => {
  it('rejects with the abort reason without starting when already aborted', async () => {
    const { ctx, controller } = fakeContext();
    const reason = new Error('cancelled before start');
    controller.abort(reason);
    const marker = path.join(dir, 'ran');
    await expect(Promise.resolve().then(() => shell(`touch ${marker}`)(ctx))).rejects.toBe(reason);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('kills a command that ignores SIGTERM with SIGKILL after graceMs', async () => {
    const { ctx, calls, controller, nextOutput } = fakeContext();
    const ready = nextOutput((line) => line === 'ready');
    const pgidLine = nextOutput((line) => /^\d+$/.test(line));
    const command = "trap '' TERM; echo $$; echo ready; sleep 30; echo survived";
    const running = shell(command, { graceMs: 200 })(ctx);
    await ready;
    const pgid = Number(await pgidLine);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(lines(calls, 'stdout')).not.toContain('survived');
    await vi.waitFor(() => expect(liveMembers(pgid)).toEqual([]), SETTLE);
  });

  it('leaves no process of the group behind after an abort', async () => {
    const { ctx, controller, nextOutput } = fakeContext();
    const pgidLine = nextOutput((line) => /^\d+$/.test(line));
    const running = shell('echo $$; sleep 30 & sleep 30')(ctx);
    const pgid = Number(await pgidLine);
    await vi.waitFor(() => expect(liveMembers(pgid).length).toBeGreaterThanOrEqual(2), SETTLE);
    controller.abort(new Error('stop'));
    await expect(running).rejects.toThrow('stop');
    await vi.waitFor(() => expect(liveMembers(pgid)).toEqual([]), SETTLE);
  });

  it('kills background processes once the command has exited', async () => {
    const { ctx, calls } = fakeContext();
    await shell('echo $$; sleep 30 & echo done')(ctx);
    const [pgid, done] = lines(calls, 'stdout');
    expect(done).toBe('done');
    await vi.waitFor(() => expect(liveMembers(Number(pgid))).toEqual([]), SETTLE);
  });

  it('settles when a process outside the group keeps stdout open', async () => {
    const { ctx, calls } = fakeContext();
    // The grandchild starts its own process group, so the group kill misses it; it holds the pipe.
    const script = [
      "const { spawn } = require('node:child_process');",
      "const child = spawn('sleep', ['30'], { detached: true, stdio: 'inherit' });",
      'console.log(child.pid);',
      'child.unref();',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'escape.cjs'), script);
    const run = shell(`"${process.execPath}" escape.cjs; echo finished`);
    const settled = Promise.resolve(run(ctx)).finally(() => {
      const pid = Number(lines(calls, 'stdout')[0]);
      if (pid > 0) strays.push(pid);
    });
    await expect(settled).resolves.toBeUndefined();
    const [pid, last] = lines(calls, 'stdout');
    expect(liveMembers(Number(pid))).toEqual([Number(pid)]);
    expect(last).toBe('finished');
  });
});

describe('killAllProcesses', () => {
  it('kills every running command group at once, grace period and ignored SIGTERM included', async () => {
    const first = fakeContext({ id: 'first' });
    const second = fakeContext({ id: 'second' });
    const pgids = [first, second].map(({ nextOutput }) => nextOutput((line) => /^\d+$/.test(line)));
    const command = "trap '' TERM; echo $$; sleep 30 & sleep 30; echo survived";
    const runs = [first, second].map(({ ctx }) => shell(command, { graceMs: 60_000 })(ctx));
    const [a, b] = await Promise.all(pgids);
    // The second task was aborted: SIGTERM was ignored and SIGKILL would come only in a minute.
    second.controller.abort(new Error('stop'));

    expect(killAllProcesses()).toBe(2);

    const [firstError, secondError] = await Promise.all(
      runs.map((run) =>
        Promise.resolve(run).then(
          () => expect.fail('expected a rejection'),
          (error: unknown) => error,
        ),
      ),
    );
    expect(firstError).toBeInstanceOf(TaskProcessError);
    expect(firstError).toMatchObject({ message: 'killed by SIGKILL', signal: 'SIGKILL' });
    expect(secondError).toEqual(new Error('stop'));
    expect(lines(first.calls, 'stdout')).not.toContain('survived');
    await vi.waitFor(
      () => expect([...liveMembers(Number(a)), ...liveMembers(Number(b))]).toEqual([]),
      SETTLE,
    );
  }, 5000);

  it('signals nothing once every command has ended', async () => {
    const { ctx } = fakeContext();
    await shell('sleep 30 & echo started')(ctx);

    expect(killAllProcesses()).toBe(0);
  });

  it('sends the signal it is given, which the command may handle', async () => {
    const { ctx, calls, nextOutput } = fakeContext();
    const ready = nextOutput((line) => line === 'ready');
    const running = shell("trap 'echo got TERM; exit 3' TERM; echo ready; sleep 30 & wait")(ctx);
    await ready;

    expect(killAllProcesses('SIGTERM')).toBe(1);

    await expect(running).rejects.toMatchObject({ exitCode: 3 });
    expect(lines(calls, 'stdout')).toEqual(['ready', 'got TERM']);
  });
});
