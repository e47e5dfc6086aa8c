import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { WorkflowValidationError } from '../../src/errors.js';
import type { WorkflowIssue } from '../../src/errors.js';
import { loadWorkflowFile, parseWorkflow } from '../../src/io/workflow-file.js';
import type { SourceLocation, TaskContext, TaskDefinition } from '../../src/types.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-workflow-file-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The definition without runners, which are compared by kind only. */
function shape(task: TaskDefinition): unknown {
  const { run, tasks, ...rest } = task;
  return {
    ...rest,
    ...(run && { run: typeof run }),
    ...(tasks && { tasks: tasks.map(shape) }),
  };
}

function issuesOf(text: string, file = 'wf.yaml'): readonly WorkflowIssue[] {
  try {
    parseWorkflow(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowValidationError);
    return (error as WorkflowValidationError).issues;
  }
  throw new Error('expected the workflow to be rejected');
}

/** Removes the ‸ mark from `marked` and gives its 1-based position in `wf.yaml`. */
function unmark(marked: string): { text: string; source: SourceLocation } {
  const offset = marked.indexOf('‸');
  const before = marked.slice(0, offset).split('\n');
  const column = (before.at(-1)?.length ?? 0) + 1;
  const source = { file: 'wf.yaml', line: before.length, column };
  return { text: marked.replace('‸', ''), source };
}

/** Runs a task's runner with a context that records what the process printed. */
async function runTask(task: TaskDefinition | undefined): Promise<string[]> {
  const lines: string[] = [];
  const log = { info() {}, detail() {}, debug() {} };
  const context: TaskContext = {
    id: task?.id ?? '',
    signal: new AbortController().signal,
    log,
    progress() {},
    produce() {},
    output(line, stream) {
      if (stream === 'stdout') lines.push(line);
    },
  };
  await task?.run?.(context);
  return lines;
}

const FULL = `name: example
maxParallel: 4
failFast: false
tasks:
  fetch:
    description: Fetch the inputs
    run: ./scripts/fetch.sh
    cwd: sub/dir
    env: { KEY: value }
  split:
    needs: [fetch]
    run: ./scripts/split.sh
  summarise:
    forEach: split
    needs: split
    run: ./scripts/summarise.sh "$TASKCHART_FILE"
  deliver:
    needs: [summarise, split]
    maxParallel: 2
    failFast: true
    tasks:
      a: { run: echo a }
      inner:
        tasks:
          b: { run: echo b }
`;

describe('parseWorkflow on a valid file', () => {
  test('reads every feature into the definition, with each task key as its source', async () => {
    const file = path.join(dir, 'wf.yaml');
    fs.writeFileSync(file, FULL);

    const workflow = await loadWorkflowFile(file);

    const at = (line: number, column: number) => ({ file, line, column });
    expect({ ...workflow, tasks: workflow.tasks.map(shape) }).toEqual({
      name: 'example',
      maxParallel: 4,
      failFast: false,
      file,
      tasks: [
        {
          id: 'fetch',
          description: 'Fetch the inputs',
          run: 'function',
          source: at(5, 3),
        },
        { id: 'split', needs: ['fetch'], run: 'function', source: at(10, 3) },
        {
          id: 'summarise',
          forEach: 'split',
          needs: ['split'],
          run: 'function',
          source: at(13, 3),
        },
        {
          id: 'deliver',
          needs: ['summarise', 'split'],
          maxParallel: 2,
          failFast: true,
          source: at(17, 3),
          tasks: [
            { id: 'a', run: 'function', source: at(22, 7) },
            {
              id: 'inner',
              source: at(23, 7),
              tasks: [{ id: 'b', run: 'function', source: at(25, 11) }],
            },
          ],
        },
      ],
    });
  });

  test('keeps the file path as given and leaves unset options undefined', () => {
    const workflow = parseWorkflow('tasks:\n  only: { run: "true" }\n', 'relative/wf.yaml');

    expect(workflow.file).toBe('relative/wf.yaml');
    expect(workflow.name).toBeUndefined();
    expect(workflow.maxParallel).toBeUndefined();
    expect(workflow.failFast).toBeUndefined();
    expect(workflow.tasks[0]?.description).toBeUndefined();
    expect(workflow.tasks[0]?.source).toEqual({ file: 'relative/wf.yaml', line: 2, column: 3 });
  });

  test('keeps on, off, yes and no as string task ids and needs', () => {
    const text = [
      'tasks:',
      '  on: { run: "true" }',
      '  off: { run: "true" }',
      '  yes: { run: "true", needs: [on, off] }',
      '  no: { run: "true", needs: yes }',
      '',
    ].join('\n');

    const workflow = parseWorkflow(text, 'wf.yaml');

    expect(workflow.tasks.map((task) => task.id)).toEqual(['on', 'off', 'yes', 'no']);
    expect(workflow.tasks.map((task) => task.needs)).toEqual([
      undefined,
      undefined,
      ['on', 'off'],
      ['yes'],
    ]);
  });

  test('runs the command with env values as written in the file', async () => {
    const text = [
      'tasks:',
      '  show:',
      '    run: printf "%s|%s|%s|%s|%s|%s\\n" "$OCTAL" "$FLAG" "$PRICE" "$QUOTED" "$TILDE" "$EMPTY"',
      '    env:',
      '      OCTAL: 010',
      '      FLAG: yes',
      '      PRICE: 1.50',
      '      QUOTED: "a b"',
      '      TILDE: ~',
      '      EMPTY:',
      '',
    ].join('\n');

    const workflow = parseWorkflow(text, path.join(dir, 'wf.yaml'));

    expect(await runTask(workflow.tasks[0])).toEqual(['010|yes|1.50|a b|~|']);
  });

  test('runs the command in cwd taken from the workflow file folder', async () => {
    fs.mkdirSync(path.join(dir, 'sub', 'dir'), { recursive: true });
    const text = 'tasks:\n  here: { run: pwd }\n  there: { run: pwd, cwd: sub/dir }\n';

    const workflow = parseWorkflow(text, path.join(dir, 'wf.yaml'));

    expect(await runTask(workflow.tasks[0])).toEqual([fs.realpathSync(dir)]);
    expect(await runTask(workflow.tasks[1])).toEqual([
      fs.realpathSync(path.join(dir, 'sub', 'dir')),
    ]);
  });
});

describe('parseWorkflow on an invalid file', () => {
  test('reports malformed YAML at the position the parser gives', () => {
    const issues = issuesOf('tasks:\n  a: { run: echo a\n  b: { run: echo b }\n');

    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]?.message).toMatch(/^invalid YAML: /);
    expect(issues[0]?.source).toEqual({ file: 'wf.yaml', line: 3, column: 3 });
  });

  test('reports more than one YAML document', () => {
    const issues = issuesOf('tasks:\n  a: { run: "true" }\n---\ntasks: {}\n');

    expect(issues).toEqual([
      {
        message: expect.stringContaining('single YAML document'),
        source: { file: 'wf.yaml', line: 3, column: 1 },
      },
    ]);
  });

  // Each text marks with ‸ the place the issue must point at; the mark is removed before parsing.
  const cases: Array<[string, string, string, string]> = [
    [
      'an unknown task field',
      'tasks:\n  a:\n    ‸rnu: echo a\n    run: echo a\n',
      'tasks.a.rnu',
      'unknown field "rnu"; expected one of: description, needs, run, forEach, cwd, env, timeout, retries, retryDelay, retryBackoff, retryMaxDelay, retryJitter, tasks, maxParallel, failFast',
    ],
    [
      'an unknown workflow field',
      '‸title: x\ntasks:\n  a: { run: "true" }\n',
      'title',
      'unknown field "title"; expected one of: name, maxParallel, failFast, tasks',
    ],
    [
      'a number as run',
      'tasks:\n  a:\n    run: ‸5\n',
      'tasks.a.run',
      'run must be a shell command, got 5',
    ],
    [
      'an empty run',
      'tasks:\n  a: { run: ‸"" }\n',
      'tasks.a.run',
      'run must be a shell command, got an empty string',
    ],
    [
      'a list as description',
      'tasks:\n  a: { run: x, description: ‸[d] }\n',
      'tasks.a.description',
      'description must be a string, got a list',
    ],
    [
      'a boolean as cwd',
      'tasks:\n  a: { run: x, cwd: ‸true }\n',
      'tasks.a.cwd',
      'cwd must be a folder path, got true',
    ],
    [
      'a number as name',
      'name: ‸12\ntasks:\n  a: { run: x }\n',
      'name',
      'name must be a string, got 12',
    ],
    [
      'yes as failFast',
      'failFast: ‸yes\ntasks:\n  a: { run: x }\n',
      'failFast',
      'failFast must be true or false, got "yes"',
    ],
    [
      'a negative maxParallel',
      'maxParallel: ‸-1\ntasks:\n  a: { run: x }\n',
      'maxParallel',
      'maxParallel must be a whole number >= 0 (0 = unlimited), got -1',
    ],
    [
      'a fractional maxParallel',
      'maxParallel: ‸1.5\ntasks:\n  a: { run: x }\n',
      'maxParallel',
      'got 1.5',
    ],
    [
      'a word as maxParallel',
      'maxParallel: ‸four\ntasks:\n  a: { run: x }\n',
      'maxParallel',
      'got "four"',
    ],
    [
      'an empty value as maxParallel',
      '‸maxParallel:\ntasks:\n  a: { run: x }\n',
      'maxParallel',
      'got an empty value',
    ],
    [
      'a mapping as needs',
      'tasks:\n  a: { run: x, needs: ‸{ b: c } }\n',
      'tasks.a.needs',
      'needs must be a task id or a list of task ids, got a mapping',
    ],
    [
      'a number in needs',
      'tasks:\n  a: { run: x, needs: [b, ‸2] }\n',
      'tasks.a.needs[1]',
      'needs[1] must be a task id, got 2',
    ],
    [
      'a number as forEach',
      'tasks:\n  a: { run: x, forEach: ‸3 }\n',
      'tasks.a.forEach',
      'forEach must be a task id, got 3',
    ],
    [
      'a list as env',
      'tasks:\n  a: { run: x, env: ‸[A] }\n',
      'tasks.a.env',
      'env must be a mapping of variable names to values, got a list',
    ],
    [
      'a list as an env value',
      'tasks:\n  a: { run: x, env: { A: ‸[1] } }\n',
      'tasks.a.env.A',
      'env variable "A" must be a string, number or boolean, got a list',
    ],
    [
      'an env name with =',
      'tasks:\n  a: { run: x, env: { ‸"A=B": 1 } }\n',
      'tasks.a.env["A=B"]',
      'must be non-empty and contain no "=" or NUL',
    ],
    ['no tasks field', '‸name: x\n', 'tasks', 'the workflow has no tasks'],
    [
      'an empty tasks mapping',
      'tasks: ‸{}\n',
      'tasks',
      'tasks must not be empty; add at least one task',
    ],
    [
      'an empty group',
      'tasks:\n  g:\n    tasks: ‸{}\n',
      'tasks.g.tasks',
      'tasks must not be empty',
    ],
    [
      'a list as tasks',
      'tasks:\n  ‸- a\n',
      'tasks',
      'tasks must be a mapping of task id to task, got a list',
    ],
    [
      'a string as a task',
      'tasks:\n  a: ‸echo a\n',
      'tasks.a',
      'task "a" must be a mapping with run or tasks, got "echo a"',
    ],
    [
      'both run and tasks',
      'tasks:\n  ‸a:\n    run: x\n    tasks: { b: { run: y } }\n',
      'tasks.a',
      'task "a" has both run and tasks',
    ],
    [
      'neither run nor tasks',
      'tasks:\n  ‸a:\n    description: d\n',
      'tasks.a',
      'task "a" has neither run nor tasks',
    ],
    [
      'forEach with tasks',
      'tasks:\n  a:\n    ‸forEach: b\n    tasks: { c: { run: y } }\n',
      'tasks.a.forEach',
      'forEach needs run and cannot be used with tasks',
    ],
    [
      'maxParallel on a leaf',
      'tasks:\n  a:\n    run: x\n    ‸maxParallel: 2\n',
      'tasks.a.maxParallel',
      'maxParallel applies only to groups',
    ],
    [
      'failFast on a leaf',
      'tasks:\n  a:\n    run: x\n    ‸failFast: true\n',
      'tasks.a.failFast',
      'failFast applies only to groups',
    ],
    [
      'cwd on a group',
      'tasks:\n  a:\n    ‸cwd: x\n    tasks: { b: { run: y } }\n',
      'tasks.a.cwd',
      'cwd applies only to tasks with run',
    ],
    [
      'a slash in an id',
      'tasks:\n  ‸a/b: { run: x }\n',
      'tasks["a/b"]',
      'task id "a/b" must not contain "/", "[" or "]"',
    ],
    [
      'brackets in an id',
      'tasks:\n  ‸"a[1]": { run: x }\n',
      'tasks["a[1]"]',
      'task id "a[1]" must not contain "/", "[" or "]"',
    ],
    [
      'a control character in an id',
      'tasks:\n  ‸"a\\tb": { run: x }\n',
      'tasks["a\\tb"]',
      'task id "a\\tb" must not contain control characters',
    ],
    ['an empty id', 'tasks:\n  ‸"": { run: x }\n', 'tasks[""]', 'a task id must not be empty'],
    [
      'a number as an id',
      'tasks:\n  ‸1: { run: x }\n',
      'tasks',
      'a task id must be a string, got 1; quote it',
    ],
    [
      'a bad id in a group',
      'tasks:\n  g:\n    tasks:\n      ‸x/y: { run: z }\n',
      'tasks.g.tasks["x/y"]',
      'must not contain "/"',
    ],
    [
      'a timeout without a unit in words',
      'tasks:\n  a: { run: x, timeout: ‸5 sec }\n',
      'tasks.a.timeout',
      'timeout must be a duration such as 500ms, 5s or 2m, got "5 sec"',
    ],
    [
      'a timeout as a bare number',
      'tasks:\n  a: { run: x, timeout: ‸30 }\n',
      'tasks.a.timeout',
      'timeout must be a duration such as 500ms, 5s or 2m, got 30; add a unit, e.g. 30s',
    ],
    [
      'a zero timeout',
      'tasks:\n  a: { run: x, timeout: ‸0s }\n',
      'tasks.a.timeout',
      'timeout must be longer than 0, got "0s"; leave timeout out for no limit',
    ],
    [
      'a negative timeout',
      'tasks:\n  a: { run: x, timeout: ‸-5s }\n',
      'tasks.a.timeout',
      'got "-5s"',
    ],
    [
      'a list as timeout',
      'tasks:\n  a: { run: x, timeout: ‸[5s] }\n',
      'tasks.a.timeout',
      'timeout must be a duration such as 500ms, 5s or 2m, got a list',
    ],
    [
      'negative retries',
      'tasks:\n  a: { run: x, retries: ‸-1 }\n',
      'tasks.a.retries',
      'retries must be a whole number >= 0, got -1',
    ],
    [
      'fractional retries',
      'tasks:\n  a: { run: x, retries: ‸1.5 }\n',
      'tasks.a.retries',
      'retries must be a whole number >= 0, got 1.5',
    ],
    [
      'quoted retries',
      'tasks:\n  a: { run: x, retries: ‸"3" }\n',
      'tasks.a.retries',
      'retries must be a whole number >= 0, got "3"',
    ],
    [
      'a bad retryDelay',
      'tasks:\n  a: { run: x, retryDelay: ‸soon }\n',
      'tasks.a.retryDelay',
      'retryDelay must be a duration such as 500ms, 5s or 2m, got "soon"',
    ],
    [
      'a bad retryMaxDelay',
      'tasks:\n  a: { run: x, retryMaxDelay: ‸1d }\n',
      'tasks.a.retryMaxDelay',
      'retryMaxDelay must be a duration such as 500ms, 5s or 2m, got "1d"',
    ],
    [
      'a retryMaxDelay below retryDelay',
      'tasks:\n  a: { run: x, retryDelay: 5s, retryMaxDelay: ‸1s }\n',
      'tasks.a.retryMaxDelay',
      'retryMaxDelay must be no shorter than retryDelay (5s), got "1s"; raise retryMaxDelay or lower retryDelay',
    ],
    [
      'a retryBackoff below 1',
      'tasks:\n  a: { run: x, retryBackoff: ‸0.5 }\n',
      'tasks.a.retryBackoff',
      'retryBackoff must be a number >= 1 (1 = the same wait every time), got 0.5',
    ],
    [
      'an infinite retryBackoff',
      'tasks:\n  a: { run: x, retryBackoff: ‸.inf }\n',
      'tasks.a.retryBackoff',
      'got .inf',
    ],
    [
      'a retryJitter above 1',
      'tasks:\n  a: { run: x, retryJitter: ‸2 }\n',
      'tasks.a.retryJitter',
      'retryJitter must be a number from 0 to 1, got 2',
    ],
    [
      'a negative retryJitter',
      'tasks:\n  a: { run: x, retryJitter: ‸-0.1 }\n',
      'tasks.a.retryJitter',
      'got -0.1',
    ],
    [
      'timeout on a group',
      'tasks:\n  g:\n    ‸timeout: 5s\n    tasks: { b: { run: y } }\n',
      'tasks.g.timeout',
      'timeout applies only to tasks with run; move it to the tasks that run commands',
    ],
    [
      'retries on a group',
      'tasks:\n  g:\n    ‸retries: 2\n    tasks: { b: { run: y } }\n',
      'tasks.g.retries',
      'retries applies only to tasks with run',
    ],
    [
      'needs on a for-each instance',
      'tasks:\n  a: { run: x, needs: [‸"per[a.txt]"] }\n',
      'tasks.a.needs[0]',
      'needs "per[a.txt]" names a for-each instance; name the for-each task "per" instead',
    ],
    [
      'needs on a for-each instance, as one id',
      'tasks:\n  a: { run: x, needs: ‸"per[a.txt]" }\n',
      'tasks.a.needs',
      'needs "per[a.txt]" names a for-each instance; name the for-each task "per" instead',
    ],
  ];

  test.each(cases)('reports %s', (_name, marked, field, message) => {
    const { text, source } = unmark(marked);

    const issues = issuesOf(text);

    expect(issues).toEqual([{ message: expect.stringContaining(message), field, source }]);
  });

  test('reports a task defined twice with both positions', () => {
    const text = 'tasks:\n  fetch: { run: a }\n  other: { run: b }\n  fetch: { run: c }\n';

    const issues = issuesOf(text);

    expect(issues).toEqual([
      {
        message: 'task "fetch" is defined twice: first at wf.yaml:2:3; rename or remove one',
        field: 'tasks.fetch',
        source: { file: 'wf.yaml', line: 4, column: 3 },
      },
    ]);
  });

  test('reports a field given twice with both positions', () => {
    const issues = issuesOf('tasks:\n  a:\n    run: x\n    run: y\n');

    expect(issues).toEqual([
      {
        message: 'field "run" is given twice: first at wf.yaml:3:5; remove one',
        field: 'tasks.a.run',
        source: { file: 'wf.yaml', line: 4, column: 5 },
      },
    ]);
  });

  test('reports every problem at once, in file order, with file:line:col in the message', () => {
    const text = [
      'maxParallel: many', //               1
      'tasks:', //                          2
      '  a:', //                            3
      '    rnu: echo a', //                 4
      '  b:', //                            5
      '    run: echo b', //                 6
      '    needs: [a, 7]', //               7
      '  g:', //                            8
      '    maxParallel: -2', //             9
      '    tasks:', //                      10
      '      "c/d": { run: echo c }', //    11
      '',
    ].join('\n');

    let error: unknown;
    try {
      parseWorkflow(text, 'flows/wf.yaml');
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(WorkflowValidationError);
    const { issues, message } = error as WorkflowValidationError;
    expect(issues.map((issue) => [issue.source?.line, issue.source?.column, issue.field])).toEqual([
      [1, 14, 'maxParallel'],
      [3, 3, 'tasks.a'],
      [4, 5, 'tasks.a.rnu'],
      [7, 16, 'tasks.b.needs[1]'],
      [9, 18, 'tasks.g.maxParallel'],
      [11, 7, 'tasks.g.tasks["c/d"]'],
    ]);
    expect(message).toContain('Invalid workflow (6 problems)');
    expect(message).toContain(
      'flows/wf.yaml:1:14: maxParallel: maxParallel must be a whole number',
    );
    expect(message).toContain('flows/wf.yaml:4:5: tasks.a.rnu: unknown field "rnu"');
    expect(message).toContain('flows/wf.yaml:11:7: tasks.g.tasks["c/d"]: task id "c/d"');
  });
});

describe('parseWorkflow reliability fields', () => {
  test('reads timeout and the retry fields of leaf and for-each tasks into milliseconds', () => {
    const text = [
      'tasks:',
      '  fetch:',
      '    run: "true"',
      '    timeout: 30s',
      '    retries: 3',
      '    retryDelay: 500ms',
      '    retryBackoff: 1.5',
      '    retryMaxDelay: 2m',
      '    retryJitter: 0.2',
      '  each:',
      '    forEach: fetch',
      '    run: "true"',
      '    timeout: 1.5h',
      '    retries: 0',
      '    retryDelay: 0s',
      '  plain: { run: "true" }',
      '',
    ].join('\n');

    const [fetch, each, plain] = parseWorkflow(text, 'wf.yaml').tasks;

    expect(fetch).toMatchObject({
      timeout: 30_000,
      retries: 3,
      retryDelay: 500,
      retryBackoff: 1.5,
      retryMaxDelay: 120_000,
      retryJitter: 0.2,
    });
    expect(each).toMatchObject({ timeout: 5_400_000, retries: 0, retryDelay: 0 });
    for (const field of [
      'timeout',
      'retries',
      'retryDelay',
      'retryBackoff',
      'retryMaxDelay',
      'retryJitter',
    ]) {
      expect(plain).not.toHaveProperty(field);
    }
  });

  test('reports every bad reliability field of a task at once, in file order', () => {
    const text =
      'tasks:\n  a:\n    run: x\n    timeout: 5 sec\n    retries: many\n    retryJitter: 1.2\n';

    const issues = issuesOf(text);

    expect(
      issues.map((issue) => `${issue.source?.line}:${issue.source?.column} ${issue.field}`),
    ).toEqual(['4:14 tasks.a.timeout', '5:14 tasks.a.retries', '6:18 tasks.a.retryJitter']);
  });
});

describe('parseWorkflow graceMs', () => {
  test('gives every shell task the grace period between SIGTERM and SIGKILL', async () => {
    // The command ignores SIGTERM, so only SIGKILL after the grace period stops it; with the
    // default of 5 s the test would run into its timeout.
    const text =
      'tasks:\n  stubborn:\n    run: trap "" TERM; echo ready; sleep 30; echo survived\n';
    const [task] = parseWorkflow(text, path.join(dir, 'wf.yaml'), { graceMs: 100 }).tasks;
    const controller = new AbortController();
    const lines: string[] = [];
    const context: TaskContext = {
      id: 'stubborn',
      signal: controller.signal,
      log: { info() {}, detail() {}, debug() {} },
      progress() {},
      produce() {},
      output(line) {
        lines.push(line);
        if (line === 'ready') controller.abort(new Error('stop'));
      },
    };

    await expect(Promise.resolve(task?.run?.(context))).rejects.toThrow('stop');
    expect(lines).toEqual(['ready']);
  }, 3000);

  test('loadWorkflowFile passes graceMs on to the shell tasks', async () => {
    const file = path.join(dir, 'wf.yaml');
    fs.writeFileSync(file, 'tasks:\n  a: { run: "true" }\n');

    await expect(loadWorkflowFile(file, { graceMs: -1 })).rejects.toThrow(/graceMs/);
    await expect(loadWorkflowFile(file, { graceMs: 250 })).resolves.toMatchObject({
      tasks: [{ id: 'a' }],
    });
  });
});

describe('loadWorkflowFile', () => {
  test('rejects a missing file with an error naming the path', async () => {
    const missing = path.join(dir, 'nope.yaml');

    const failure = loadWorkflowFile(missing);

    await expect(failure).rejects.toBeInstanceOf(WorkflowValidationError);
    await expect(failure).rejects.toMatchObject({
      code: 'INVALID_WORKFLOW',
      issues: [
        {
          message: `cannot read workflow file "${missing}": it does not exist; check the path and permissions`,
        },
      ],
    });
  });

  test('rejects a folder with an error naming the path', async () => {
    await expect(loadWorkflowFile(dir)).rejects.toThrow(`cannot read workflow file "${dir}"`);
  });

  test('reports problems with the path as given', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'tasks:\n  a: { run: x, maxParallel: 1 }\n');

    await expect(loadWorkflowFile(file)).rejects.toThrow(`${file}:2:16: tasks.a.maxParallel`);
  });
});
