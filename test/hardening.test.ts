import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createWorkflow,
  loadWorkflowFile,
  runWorkflow,
  WorkflowValidationError,
  type TaskDefinition,
  type WorkflowDefinition,
} from '../src/index.js';

const run = () => {};

function issues(definition: unknown): string[] {
  try {
    createWorkflow(definition as WorkflowDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowValidationError);
    return (error as WorkflowValidationError).issues.map(
      (issue) => `${issue.field ?? ''}: ${issue.message}`,
    );
  }
  return expect.fail('the definition was accepted');
}

describe('library definitions that are not what the types say', () => {
  it('reports a missing definition, a tasks value that is not a list, and a null task', () => {
    expect(issues(null)).toEqual([': a workflow must be an object with a list of tasks, got null']);
    expect(issues({ tasks: 'abc' })).toEqual(['tasks: must be a list of tasks, got "abc"']);
    expect(issues({ tasks: [null, { id: 'a', run }] })).toEqual([
      'tasks[0]: must be a task object, got null',
    ]);
  });

  it('reports an unknown field, which would otherwise change what runs without a word', () => {
    expect(
      issues({
        tasks: [
          { id: 'a', run },
          { id: 'b', need: ['a'], run },
        ],
      }),
    ).toEqual([
      'b.need: unknown field "need"; expected one of: id, description, needs, run, forEach, tasks, maxParallel, failFast, timeout, retries, retryDelay, retryBackoff, retryMaxDelay, retryJitter',
    ]);
  });

  it('reports needs that are not task ids, timers past what Node can wait, and runaway nesting', () => {
    expect(
      issues({
        tasks: [
          { id: '1', run },
          { id: 'b', needs: [1], run },
        ],
      }),
    ).toEqual(['b.needs: needs entries must be task ids (strings), got 1']);
    expect(issues({ tasks: [{ id: 'a', timeout: 3e9, run }] })).toEqual([
      'a.timeout: must be a number of ms > 0 and at most 2147483647, got 3000000000',
    ]);
    let deep: TaskDefinition = { id: 'leaf', run };
    for (let level = 0; level < 40; level++) deep = { id: `g${level}`, tasks: [deep] };
    expect(issues({ tasks: [deep] })[0]).toMatch(/groups nest more than 32 levels deep here/);
  });

  it('keeps a task called __proto__ in the results as a plain key', async () => {
    const result = await runWorkflow({
      tasks: [
        { id: '__proto__', run },
        { id: 'b', run },
      ],
    });
    expect(Object.keys(result.tasks)).toEqual(['__proto__', 'b']);
    expect(JSON.parse(JSON.stringify(result.tasks)).__proto__).toMatchObject({ status: 'done' });
  });
});

describe('workflow files that are not plain UTF-8 text', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-hardening-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the line of the first byte that is not UTF-8', async () => {
    const file = path.join(dir, 'latin1.yaml');
    fs.writeFileSync(file, Buffer.from('tasks:\n  a:\n    run: echo \xe9t\xe9\n', 'latin1'));
    await expect(loadWorkflowFile(file)).rejects.toThrow(
      `${file}:3:15: the file is not valid UTF-8`,
    );
  });

  it('refuses a folder or a pipe instead of reading it', async () => {
    await expect(loadWorkflowFile(dir)).rejects.toThrow(/it is not a regular file/);
  });

  it('reports an alias that contains itself instead of overflowing the stack', async () => {
    const file = path.join(dir, 'self.yaml');
    fs.writeFileSync(file, 'tasks:\n  g: &x\n    tasks:\n      inner: *x\n');
    await expect(loadWorkflowFile(file)).rejects.toThrow(/refers to itself through an alias/);
  });

  it('refuses output paths that collide or are not plain files, before anything runs', () => {
    const file = path.join(dir, 'wf.yaml');
    fs.writeFileSync(file, `tasks:\n  a: { run: "touch ${path.join(dir, 'ran')}" }\n`);
    const cli = path.resolve('dist/cli/main.js');
    const cases: [string[], RegExp][] = [
      [['--events', file], /--events ".*" is the same path as the workflow file/],
      [
        ['--events', 'x.json', '--summary', 'x.json'],
        /--summary "x.json" is the same path as --events/,
      ],
      [['--summary', dir], /--summary ".*" exists and is not a regular file/],
    ];
    for (const [flags, says] of cases) {
      const result = spawnSync(process.execPath, [cli, 'run', file, ...flags], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(says);
    }
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(false);
  });
});

describe('items and output that could corrupt ids or the terminal', () => {
  it('fails a task that produces an item that is not a clean string', async () => {
    for (const item of [1, '', 'evil\u001b[2Jname']) {
      const result = await runWorkflow({
        tasks: [
          { id: 'p', run: (ctx) => ctx.produce(item as string) },
          { id: 'each', forEach: 'p', run },
        ],
      });
      expect(result.tasks.p).toMatchObject({
        status: 'failed',
        error: {
          message: expect.stringMatching(
            /^produce expects a non-empty string without control characters/,
          ),
        },
      });
    }
  });

  it('shows control characters of task output as replacement characters on the terminal', async () => {
    const { createTerminal } = await import('../src/index.js');
    let text = '';
    const stream = Object.assign(
      new (await import('node:stream')).Writable({
        write(chunk, _encoding, done) {
          text += String(chunk);
          done();
        },
      }),
      { isTTY: false },
    );
    const terminal = createTerminal({ stream, live: false, color: false });
    terminal.handle({
      type: 'task.log',
      time: 1,
      id: 'a',
      status: 'running',
      level: 'info',
      line: 'x\u001b[2Jy\tz',
    });
    await terminal.close();
    expect(text).toContain('a | x�[2Jy\tz');
    expect(text).not.toContain('\u001b');
  });
});

describe('run options', () => {
  it('rejects a clock that lacks now, setTimeout or clearTimeout', () => {
    const workflow = createWorkflow({ tasks: [{ id: 'a', run }] });
    expect(() => workflow.run({ clock: {} as never })).toThrow(
      /options\.clock: must have the functions now, setTimeout and clearTimeout/,
    );
  });
});
