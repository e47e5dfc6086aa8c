import { describe, expect, it } from 'vitest';
import {
  createStatusTable,
  createWorkflow,
  type TaskchartEvent,
  type TaskDefinition,
} from '../src/index.js';
import {
  aborted,
  counter,
  deferred,
  gates,
  outcome,
  peakRunning,
  record,
  starts,
  steppingClock,
  trace,
  turns,
  waitFor,
  waitForTask,
} from './helpers.js';

const pass = async (): Promise<void> => {};

describe('prerequisites', () => {
  it('starts a task only once every prerequisite is done', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        { id: 'a', run: g.runner },
        { id: 'b', needs: ['a'], run: g.runner },
        { id: 'c', needs: ['a'], run: g.runner },
        { id: 'd', needs: ['b', 'c'], run: g.runner },
      ],
    }).run();
    const events = record(run);

    await waitForTask(run, 'task.started', 'a');
    expect(starts(events)).toEqual(['a']);
    g.open('a');
    await waitForTask(run, 'task.started', 'c');
    g.open('c');
    await waitForTask(run, 'task.done', 'c');
    await turns(1);
    expect(starts(events)).toEqual(['a', 'b', 'c']);
    g.open('b');
    await waitForTask(run, 'task.started', 'd');
    g.open('d');

    const result = await run.result;
    expect(result.status).toBe('done');
    expect(trace(events)).toEqual([
      'run started',
      'started a',
      'done a',
      'started b',
      'started c',
      'done c',
      'done b',
      'started d',
      'done d',
      'run done',
    ]);
  });
});

describe('failure propagation', () => {
  it('cancels a whole chain at once when its head fails, while an independent task carries on', async () => {
    const g = gates();
    const workflow = createWorkflow({
      tasks: [
        { id: 'a', run: g.runner },
        { id: 'b', needs: ['a'], run: g.runner },
        { id: 'c', needs: ['b'], run: g.runner },
        { id: 'x', run: g.runner },
      ],
    });
    const run = workflow.run();
    const events = record(run);
    // x finishes right after a's failure; its done event must follow the cancellations.
    run.on('task.failed', () => g.open('x'));

    await waitForTask(run, 'task.started', 'x');
    g.fail('a', new Error('a broke'));
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started a',
      'started x',
      'failed a: a broke',
      'cancelled b (prerequisite a)',
      'cancelled c (prerequisite b)',
      'done x',
      'run failed',
    ]);
    expect(g.calls).toEqual(['a', 'x']);
    expect(result.status).toBe('failed');
    expect(outcome(result.tasks)).toEqual({
      a: 'failed: a broke',
      b: 'cancelled prerequisite a',
      c: 'cancelled prerequisite b',
      x: 'done',
    });
  });

  it('cancels a diamond below a failed task, naming a direct prerequisite each time', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        { id: 'root', run: pass },
        { id: 'a', needs: ['root'], run: g.runner },
        { id: 'b', needs: ['a'], run: g.runner },
        { id: 'c', needs: ['a'], run: g.runner },
        { id: 'd', needs: ['b', 'c'], run: g.runner },
        { id: 'e', needs: ['d'], run: g.runner },
        { id: 'side', needs: ['root'], run: g.runner },
      ],
    }).run();
    const events = record(run);
    run.on('task.failed', () => g.open('side'));

    await waitForTask(run, 'task.started', 'side');
    g.fail('a', new Error('no'));
    const result = await run.result;

    expect(result.status).toBe('failed');
    expect(g.calls).toEqual(['a', 'side']);
    const view = outcome(result.tasks);
    expect(view).toMatchObject({
      root: 'done',
      a: 'failed: no',
      b: 'cancelled prerequisite a',
      c: 'cancelled prerequisite a',
      e: 'cancelled prerequisite d',
      side: 'done',
    });
    expect(['cancelled prerequisite b', 'cancelled prerequisite c']).toContain(view['d']);
    const lines = trace(events);
    const lastCancel = lines.findIndex((line) => line.startsWith('cancelled e'));
    expect(lines.indexOf('done side')).toBeGreaterThan(lastCancel);
    expect(lines.filter((line) => line.startsWith('cancelled'))).toHaveLength(4);
  });

  it('cancels the tasks below a cancelled prerequisite with that prerequisite named', async () => {
    const run = createWorkflow({
      tasks: [
        { id: 'fetch', run: () => Promise.reject(new Error('offline')) },
        { id: 'parse', needs: ['fetch'], run: pass },
        { id: 'index', needs: ['parse'], run: pass },
        { id: 'render', needs: ['parse', 'index'], run: pass },
        { id: 'lint', run: pass },
      ],
    }).run();
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      fetch: 'failed: offline',
      parse: 'cancelled prerequisite fetch',
      index: 'cancelled prerequisite parse',
      render: expect.stringMatching(/^cancelled prerequisite (parse|index)$/),
      lint: 'done',
    });
    expect(result.status).toBe('failed');
  });

  it('cancels 9,999 tasks of a chain whose first task fails', async () => {
    const tasks: TaskDefinition[] = [{ id: 't0', run: () => Promise.reject(new Error('first')) }];
    for (let index = 1; index < 10_000; index++) {
      tasks.push({ id: `t${index}`, needs: [`t${index - 1}`], run: pass });
    }
    const result = await createWorkflow({ tasks }).run().result;

    expect(result.status).toBe('failed');
    const cancelled = Object.values(result.tasks).filter(
      (task) => task.status === 'cancelled' && task.reason === 'prerequisite',
    );
    expect(cancelled).toHaveLength(9_999);
    expect(result.tasks['t5000']).toMatchObject({ status: 'cancelled', prerequisite: 't4999' });
  }, 60_000);
});

describe('maxParallel', () => {
  it('with a limit of 1 starts tasks in ready order, ties in declaration order', async () => {
    const run = createWorkflow({
      maxParallel: 1,
      tasks: [
        { id: 'root', run: pass },
        { id: 'zeta', needs: ['root'], run: pass },
        { id: 'alpha', needs: ['root'], run: pass },
        { id: 'mid', run: pass },
        { id: 'beta', needs: ['mid'], run: pass },
        { id: 'last', run: pass },
      ],
    }).run();
    const events = record(run);
    await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started root',
      'done root',
      'started mid',
      'done mid',
      'started last',
      'done last',
      'started zeta',
      'done zeta',
      'started alpha',
      'done alpha',
      'started beta',
      'done beta',
      'run done',
    ]);
  });

  it('never runs more than the limit, counted by the tasks themselves', async () => {
    const { state, runner } = counter();
    const tasks = Array.from({ length: 30 }, (_, index) => ({ id: `task-${index}`, run: runner }));
    const run = createWorkflow({ maxParallel: 3, tasks }).run();
    const events = record(run);
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(state.calls).toBe(30);
    expect(state.peak).toBe(3);
    expect(peakRunning(events, () => true)).toBe(3);
  });

  it('run options override the workflow limit', async () => {
    const { state, runner } = counter();
    const tasks = Array.from({ length: 12 }, (_, index) => ({ id: `t${index}`, run: runner }));
    const result = await createWorkflow({ maxParallel: 6, tasks }).run({ maxParallel: 2 }).result;

    expect(result.status).toBe('done');
    expect(state.peak).toBe(2);
  });

  it('with 0 (unlimited) starts every ready task at once', async () => {
    const { state, runner } = counter();
    const tasks = Array.from({ length: 30 }, (_, index) => ({ id: `task-${index}`, run: runner }));
    const run = createWorkflow({ maxParallel: 0, tasks }).run();
    const events = record(run);
    await run.result;

    expect(state.peak).toBe(30);
    const firstEnd = events.findIndex((event) => event.type === 'task.done');
    expect(starts(events.slice(0, firstEnd))).toHaveLength(30);
  });
});

describe('failFast', () => {
  it('cancels tasks not started, aborts running ones, and fails the run', async () => {
    const g = gates();
    const run = createWorkflow({
      maxParallel: 3,
      failFast: true,
      tasks: [
        { id: 's1', run: g.runner },
        { id: 's2', run: g.runner },
        { id: 'bad', run: g.runner },
        { id: 'q1', run: g.runner },
        { id: 'q2', run: g.runner },
        { id: 'dep', needs: ['s1'], run: g.runner },
      ],
    }).run();
    const events = record(run);

    await waitForTask(run, 'task.started', 'bad');
    g.fail('bad', new Error('bad input'));
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started s1',
      'started s2',
      'started bad',
      'failed bad: bad input',
      'cancelled q1 (fail-fast)',
      'cancelled q2 (fail-fast)',
      'cancelled dep (fail-fast)',
      'cancelled s1 (fail-fast)',
      'cancelled s2 (fail-fast)',
      'run failed',
    ]);
    expect(g.calls).toEqual(['s1', 's2', 'bad']);
    expect(g.aborted).toEqual(['s1', 's2']);
    expect(result.status).toBe('failed');
    expect(result.tasks['s1']).toMatchObject({ status: 'cancelled', reason: 'fail-fast' });
    expect(result.tasks['s1']?.startedAt).toEqual(expect.any(Number));
    expect(result.tasks['q1']?.startedAt).toBeUndefined();
  });

  it('the failFast run option overrides the workflow', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        { id: 'slow', run: g.runner },
        { id: 'bad', run: g.runner },
      ],
    }).run({ failFast: true });
    await waitForTask(run, 'task.started', 'bad');
    g.fail('bad', new Error('x'));
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({ slow: 'cancelled fail-fast', bad: 'failed: x' });
  });
});

describe('run status', () => {
  it('is done when every task is done', async () => {
    const result = await createWorkflow({
      tasks: [
        { id: 'a', run: pass },
        { id: 'b', needs: ['a'], run: () => 'value' },
      ],
    }).run().result;

    expect(result.status).toBe('done');
    expect(outcome(result.tasks)).toEqual({ a: 'done', b: 'done' });
    expect(result.error).toBeUndefined();
  });

  it('is failed when any task failed', async () => {
    const result = await createWorkflow({
      tasks: [
        { id: 'a', run: pass },
        { id: 'b', run: () => Promise.reject(new Error('nope')) },
      ],
    }).run().result;

    expect(result.status).toBe('failed');
    expect(outcome(result.tasks)).toEqual({ a: 'done', b: 'failed: nope' });
  });

  it('is cancelled after run.cancel(), which interrupts running and waiting tasks', async () => {
    const g = gates();
    const run = createWorkflow({
      maxParallel: 2,
      tasks: [
        { id: 'r1', run: g.runner },
        { id: 'r2', run: g.runner },
        { id: 'q', run: g.runner },
        { id: 'w', needs: ['r1'], run: g.runner },
      ],
    }).run();
    const events = record(run);

    await waitForTask(run, 'task.started', 'r2');
    run.cancel();
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started r1',
      'started r2',
      'cancelled q (interrupted)',
      'cancelled w (interrupted)',
      'cancelled r1 (interrupted)',
      'cancelled r2 (interrupted)',
      'run cancelled',
    ]);
    expect(g.aborted).toEqual(['r1', 'r2']);
    expect(g.calls).toEqual(['r1', 'r2']);
    expect(result.status).toBe('cancelled');
  });

  it('keeps its result when cancelled after it ended', async () => {
    const run = createWorkflow({ tasks: [{ id: 'a', run: pass }] }).run();
    const result = await run.result;
    run.cancel();
    await turns(1);

    expect(result.status).toBe('done');
    expect(outcome(run.statuses())).toEqual({ a: 'done' });
  });

  it('is cancelled, with nothing run, when cancelled before the run began', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        { id: 'a', run: g.runner },
        { id: 'b', needs: ['a'], run: g.runner },
      ],
    }).run();
    const events = record(run);
    run.cancel();
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'cancelled a (interrupted)',
      'cancelled b (interrupted)',
      'run cancelled',
    ]);
    expect(g.calls).toEqual([]);
    expect(result.status).toBe('cancelled');
  });
});

describe('runners', () => {
  it('turns throws and rejections of any kind into failed tasks and frees the slot', async () => {
    const run = createWorkflow({
      maxParallel: 1,
      tasks: [
        {
          id: 'sync',
          run: () => {
            throw new Error('sync boom');
          },
        },
        { id: 'error', run: async () => Promise.reject(new Error('async boom')) },
        { id: 'number', run: () => Promise.reject(42) },
        { id: 'object', run: () => Promise.reject({ code: 1 }) },
        { id: 'text', run: () => Promise.reject('plain words') },
        {
          id: 'thrownValue',
          run: () => {
            throw { reason: 'thrown' };
          },
        },
        { id: 'next', run: pass },
      ],
    }).run();
    const events = record(run);
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started sync',
      'failed sync: sync boom',
      'started error',
      'failed error: async boom',
      'started number',
      expect.stringMatching(/^failed number: .*\b42\b/),
      'started object',
      expect.stringMatching(/^failed object: .*\{"code":1\}/),
      'started text',
      expect.stringMatching(/^failed text: .*plain words/),
      'started thrownValue',
      expect.stringMatching(/^failed thrownValue: .*"reason":"thrown"/),
      'started next',
      'done next',
      'run failed',
    ]);
    for (const event of events) {
      if (event.type === 'task.failed')
        expect(event.error.message).not.toContain('[object Object]');
    }
    expect(result.status).toBe('failed');
  });

  it('ends a runner that settles only when aborted, through failFast', async () => {
    const g = gates();
    let abortedReason: unknown;
    const run = createWorkflow({
      failFast: true,
      tasks: [
        {
          id: 'hang',
          run: async ({ signal }) => {
            try {
              await aborted(signal);
            } catch (reason) {
              abortedReason = reason;
              throw reason;
            }
          },
        },
        { id: 'bad', run: g.runner },
      ],
    }).run();
    await waitForTask(run, 'task.started', 'bad');
    g.fail('bad', new Error('stop'));
    const result = await run.result;

    expect(abortedReason).toBeDefined();
    expect(outcome(result.tasks)).toEqual({ hang: 'cancelled fail-fast', bad: 'failed: stop' });
    expect(result.status).toBe('failed');
  });

  it('ends a runner that settles only when aborted, through run.cancel(), even if it then resolves', async () => {
    let sawAbort = false;
    const run = createWorkflow({
      tasks: [
        {
          id: 'hang',
          run: ({ signal }) =>
            new Promise<void>((resolve) =>
              signal.addEventListener('abort', () => {
                sawAbort = true;
                resolve();
              }),
            ),
        },
      ],
    }).run();
    await waitForTask(run, 'task.started', 'hang');
    run.cancel();
    const result = await run.result;

    expect(sawAbort).toBe(true);
    expect(outcome(result.tasks)).toEqual({ hang: 'cancelled interrupted' });
    expect(result.status).toBe('cancelled');
  });
});

describe('groups', () => {
  it('finishes a group when its children are done, with qualified child ids', async () => {
    const ids: string[] = [];
    const run = createWorkflow({
      tasks: [
        {
          id: 'g',
          description: 'the group',
          tasks: [
            { id: 'x', run: ({ id }) => void ids.push(id) },
            { id: 'y', needs: ['x'], run: ({ id }) => void ids.push(id) },
          ],
        },
        { id: 'after', needs: ['g'], run: ({ id }) => void ids.push(id) },
      ],
    }).run();
    const events = record(run);
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started g',
      'started g/x',
      'done g/x',
      'started g/y',
      'done g/y',
      'done g',
      'started after',
      'done after',
      'run done',
    ]);
    expect(ids).toEqual(['g/x', 'g/y', 'after']);
    const started = events[0];
    expect(started?.type === 'run.started' && started.tasks).toEqual([
      { id: 'g', description: 'the group', kind: 'group', needs: [] },
      { id: 'g/x', description: 'g/x', kind: 'task', needs: [], parent: 'g' },
      { id: 'g/y', description: 'g/y', kind: 'task', needs: ['g/x'], parent: 'g' },
      { id: 'after', description: 'after', kind: 'task', needs: ['g'] },
    ]);
    expect(result.status).toBe('done');
  });

  it('fails a group when a child fails; only the group status reaches outside it', async () => {
    const result = await createWorkflow({
      tasks: [
        {
          id: 'g',
          tasks: [
            { id: 'bad', run: () => Promise.reject(new Error('child broke')) },
            { id: 'ok', run: async () => turns(2) },
            { id: 'below', needs: ['bad'], run: pass },
          ],
        },
        { id: 'after', needs: ['g'], run: pass },
        { id: 'sibling', run: async () => turns(3) },
      ],
    }).run().result;

    expect(outcome(result.tasks)).toEqual({
      g: expect.stringMatching(/^failed: .*g\/bad/),
      'g/bad': 'failed: child broke',
      'g/ok': 'done',
      'g/below': 'cancelled prerequisite g/bad',
      after: 'cancelled prerequisite g',
      sibling: 'done',
    });
    expect(result.status).toBe('failed');
  });

  it("limits a group's children by the group's own maxParallel", async () => {
    const { state, runner } = counter();
    const children = Array.from({ length: 8 }, (_, index) => ({ id: `c${index}`, run: runner }));
    const run = createWorkflow({
      tasks: [{ id: 'g', maxParallel: 2, tasks: children }],
    }).run();
    const events = record(run);
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(state.calls).toBe(8);
    expect(state.peak).toBe(2);
    expect(peakRunning(events, (id) => id.startsWith('g/'))).toBe(2);
  });

  it("holds one slot of its parent's limit while its children run together", async () => {
    const { state, runner } = counter();
    const run = createWorkflow({
      maxParallel: 1,
      tasks: [
        {
          id: 'g',
          tasks: [
            { id: 'x', run: runner },
            { id: 'y', run: runner },
          ],
        },
        { id: 't', run: pass },
      ],
    }).run();
    const events = record(run);
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(state.peak).toBe(2);
    expect(starts(events)).toEqual(['g', 'g/x', 'g/y', 't']);
    const lines = trace(events);
    expect(lines.indexOf('started t')).toBeGreaterThan(lines.indexOf('done g'));
  });

  it('fails fast inside a group without touching tasks outside it', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        {
          id: 'g',
          failFast: true,
          tasks: [
            { id: 'slow', run: g.runner },
            { id: 'bad', run: g.runner },
            { id: 'later', needs: ['slow'], run: g.runner },
          ],
        },
        { id: 'dep', needs: ['g'], run: g.runner },
        { id: 'other', run: g.runner },
      ],
    }).run();
    run.on('task.failed', (event) => {
      if (event.id === 'g') g.open('other');
    });
    await waitForTask(run, 'task.started', 'g/bad');
    g.fail('g/bad', new Error('child failed'));
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      g: expect.stringMatching(/^failed: /),
      'g/slow': 'cancelled fail-fast',
      'g/bad': 'failed: child failed',
      'g/later': 'cancelled fail-fast',
      dep: 'cancelled prerequisite g',
      other: 'done',
    });
    expect(g.aborted).toEqual(['g/slow']);
    expect(result.status).toBe('failed');
  });

  it('cancels a group with reason parent for its children when a sibling fails fast', async () => {
    const g = gates();
    const run = createWorkflow({
      failFast: true,
      tasks: [
        {
          id: 'g',
          tasks: [
            { id: 'a', run: g.runner },
            { id: 'b', needs: ['a'], run: g.runner },
          ],
        },
        { id: 'bad', run: g.runner },
      ],
    }).run();
    await waitForTask(run, 'task.started', 'g/a');
    g.fail('bad', new Error('sibling failed'));
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      g: 'cancelled fail-fast',
      'g/a': 'cancelled parent',
      'g/b': 'cancelled parent',
      bad: 'failed: sibling failed',
    });
    expect(g.aborted).toEqual(['g/a']);
    expect(g.calls).toEqual(['g/a', 'bad']);
    expect(result.status).toBe('failed');
  });

  it('cancels a group and its children with reason interrupted on run.cancel()', async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        {
          id: 'g',
          tasks: [
            { id: 'a', run: g.runner },
            { id: 'b', needs: ['a'], run: g.runner },
            { id: 'inner', tasks: [{ id: 'deep', run: g.runner }] },
          ],
        },
        { id: 'after', needs: ['g'], run: g.runner },
      ],
    }).run();
    await waitForTask(run, 'task.started', 'g/inner/deep');
    run.cancel();
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      g: 'cancelled interrupted',
      'g/a': 'cancelled interrupted',
      'g/b': 'cancelled interrupted',
      'g/inner': 'cancelled interrupted',
      'g/inner/deep': 'cancelled interrupted',
      after: 'cancelled interrupted',
    });
    expect([...g.aborted].sort()).toEqual(['g/a', 'g/inner/deep']);
    expect(result.status).toBe('cancelled');
  });
});

describe('for-each', () => {
  it('starts instances while the producer still runs; dependents wait for every instance', async () => {
    const more = deferred();
    const items: string[] = [];
    const run = createWorkflow({
      tasks: [
        {
          id: 'split',
          run: async (ctx) => {
            ctx.produce('a');
            await more.promise;
            ctx.produce('b');
          },
        },
        { id: 'per', forEach: 'split', run: (ctx) => void items.push(`${ctx.id}=${ctx.item}`) },
        { id: 'report', needs: ['per'], run: pass },
      ],
    }).run();
    const events = record(run);

    await waitForTask(run, 'task.done', 'per[a]');
    expect(trace(events)).toEqual([
      'run started',
      'started split',
      'file split a',
      'added per[a]',
      'started per',
      'started per[a]',
      'done per[a]',
    ]);
    more.resolve();
    const result = await run.result;

    const lines = trace(events);
    expect(lines).toContain('added per[b]');
    const at = (line: string) => lines.indexOf(line);
    expect(at('done per[a]')).toBeLessThan(at('done split'));
    expect(at('started per[b]')).toBeLessThan(at('done split'));
    expect(at('done per')).toBeGreaterThan(at('done split'));
    expect(at('done per')).toBeGreaterThan(at('done per[b]'));
    expect(at('started report')).toBeGreaterThan(at('done per'));
    expect(items).toEqual(['per[a]=a', 'per[b]=b']);
    const added = events.find((event) => event.type === 'task.added' && event.id === 'per[b]');
    expect(added).toMatchObject({
      status: 'scheduled',
      task: { id: 'per[b]', kind: 'instance', forEach: 'per', item: 'b', needs: [] },
    });
    expect(result.status).toBe('done');
    expect(Object.keys(result.tasks)).toEqual(['split', 'per', 'report', 'per[a]', 'per[b]']);
  });

  it('keeps a started instance running when the producer fails, starts no more, cancels dependents', async () => {
    const g = gates();
    const fail = deferred();
    const run = createWorkflow({
      tasks: [
        {
          id: 'split',
          run: async (ctx) => {
            ctx.produce('a');
            await fail.promise;
            throw new Error('split broke');
          },
        },
        { id: 'per', forEach: 'split', run: g.runner },
        { id: 'report', needs: ['per'], run: g.runner },
      ],
    }).run();
    const events = record(run);

    await waitForTask(run, 'task.started', 'per[a]');
    fail.resolve();
    await waitForTask(run, 'task.cancelled', 'report');
    expect(run.status('per[a]')?.status).toBe('running');
    g.open('per[a]');
    const result = await run.result;

    expect(trace(events)).toEqual([
      'run started',
      'started split',
      'file split a',
      'added per[a]',
      'started per',
      'started per[a]',
      'failed split: split broke',
      'cancelled per (prerequisite split)',
      'cancelled report (prerequisite per)',
      'done per[a]',
      'run failed',
    ]);
    expect(g.calls).toEqual(['per[a]']);
    expect(result.status).toBe('failed');
  });

  it("holds instances back until the for-each's other prerequisites are done", async () => {
    const g = gates();
    const run = createWorkflow({
      tasks: [
        { id: 'config', run: g.runner },
        { id: 'split', run: (ctx) => ['a', 'b'].forEach((item) => ctx.produce(item)) },
        { id: 'per', forEach: 'split', needs: ['config'], run: g.runner },
      ],
    }).run();
    const events = record(run);
    run.on('task.started', (event) => {
      if (event.id.startsWith('per[')) g.open(event.id);
    });

    await waitForTask(run, 'task.done', 'split');
    await turns(2);
    expect(starts(events).filter((id) => id.startsWith('per['))).toEqual([]);
    expect(run.status('per[a]')?.status).toBe('scheduled');
    g.open('config');
    const result = await run.result;

    const lines = trace(events);
    expect(lines.indexOf('started per[a]')).toBeGreaterThan(lines.indexOf('done config'));
    expect(lines.indexOf('started per[b]')).toBeGreaterThan(lines.indexOf('done config'));
    expect(outcome(result.tasks)).toEqual({
      config: 'done',
      split: 'done',
      per: 'done',
      'per[a]': 'done',
      'per[b]': 'done',
    });
  });

  it('fails the for-each when an instance fails and cancels its dependents', async () => {
    const run = createWorkflow({
      tasks: [
        {
          id: 'split',
          run: (ctx) => {
            for (const item of ['a', 'b', 'c']) ctx.produce(item);
          },
        },
        {
          id: 'per',
          forEach: 'split',
          run: async (ctx) => {
            if (ctx.item === 'b') throw new Error(`cannot read ${ctx.item}`);
          },
        },
        { id: 'report', needs: ['per'], run: pass },
      ],
    }).run();
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      split: 'done',
      per: expect.stringMatching(/^failed: /),
      report: 'cancelled prerequisite per',
      'per[a]': 'done',
      'per[b]': 'failed: cannot read b',
      'per[c]': 'done',
    });
    expect(result.status).toBe('failed');
  });
});

describe('event stream', () => {
  it('replays into a fresh status table that matches the run, groups, for-each and cancels included', async () => {
    const clock = steppingClock();
    const run = createWorkflow({
      tasks: [
        {
          id: 'split',
          description: 'Split the input',
          run: (ctx) => ['a', 'b', 'c'].forEach((item) => ctx.produce(item)),
        },
        {
          id: 'per',
          forEach: 'split',
          run: async (ctx) => {
            ctx.progress(0.5, 'half');
            ctx.log.info(`item ${ctx.item}`);
            if (ctx.item === 'b') throw new Error('bad item');
          },
        },
        { id: 'report', needs: ['per'], run: pass },
        {
          id: 'g',
          tasks: [
            { id: 'gsplit', run: (ctx) => ctx.produce('x') },
            { id: 'gper', forEach: 'gsplit', run: pass },
            { id: 'gbad', run: () => Promise.reject(7) },
            { id: 'gafter', needs: ['gbad'], run: pass },
          ],
        },
        { id: 'tail', needs: ['g'], run: pass },
        { id: 'hang', run: ({ signal }) => aborted(signal) },
        { id: 'later', needs: ['hang'], run: pass },
      ],
    }).run({ clock });
    const events = record(run);
    const unfinished = (): string[] =>
      Object.values(run.statuses())
        .filter((task) => task.status === 'scheduled' || task.status === 'running')
        .map((task) => task.id);
    await waitFor(run, () => unfinished().join() === 'hang,later');
    run.cancel();
    const result = await run.result;

    const table = createStatusTable();
    for (const event of events) table.apply(JSON.parse(JSON.stringify(event)) as TaskchartEvent);
    expect(table.results()).toEqual(result.tasks);
    expect(table.results()).toEqual(run.statuses());
    expect(table.runStatus()).toBe(result.status);
    expect(table.startedAt()).toBe(result.startedAt);
    expect(table.completedAt()).toBe(result.completedAt);

    expect(outcome(result.tasks)).toEqual({
      split: 'done',
      per: expect.stringMatching(/^failed: /),
      report: 'cancelled prerequisite per',
      g: expect.stringMatching(/^failed: /),
      'g/gsplit': 'done',
      'g/gper': 'done',
      'g/gbad': expect.stringMatching(/^failed: .*7/),
      'g/gafter': 'cancelled prerequisite g/gbad',
      tail: 'cancelled prerequisite g',
      hang: 'cancelled interrupted',
      later: 'cancelled interrupted',
      'per[a]': 'done',
      'per[b]': 'failed: bad item',
      'per[c]': 'done',
      'g/gper[x]': 'done',
    });
    for (const task of Object.values(result.tasks)) {
      expect(task.completedAt, task.id).toEqual(expect.any(Number));
    }
    expect(result.tasks['hang']?.startedAt).toEqual(expect.any(Number));
    expect(result.tasks['split']?.description).toBe('Split the input');
    expect(result.status).toBe('cancelled');
  });

  it('lists every task with its description and current status while the run goes on', async () => {
    const g = gates();
    const run = createWorkflow({
      maxParallel: 1,
      tasks: [
        { id: 'fetch', description: 'Fetch data', run: pass },
        { id: 'build', description: 'Build it', run: g.runner },
        { id: 'ship', needs: ['build'], run: pass },
      ],
    }).run();

    await waitForTask(run, 'task.started', 'build');
    expect(run.listing()).toBe(
      ['fetch: Fetch data [done]', 'build: Build it [running]', 'ship: ship [scheduled]'].join(
        '\n',
      ),
    );
    expect(run.status('build')).toMatchObject({ status: 'running', description: 'Build it' });
    g.open('build');
    await run.result;
    expect(run.listing()).toBe(
      ['fetch: Fetch data [done]', 'build: Build it [done]', 'ship: ship [done]'].join('\n'),
    );
  });

  it('keeps running and keeps notifying other listeners when a listener throws', async () => {
    const failures: { error: unknown; type: string }[] = [];
    const workflow = createWorkflow({
      tasks: [
        { id: 'a', run: pass },
        { id: 'b', needs: ['a'], run: pass },
      ],
    });
    const run = workflow.run({
      onListenerError: (error, event) => failures.push({ error, type: event.type }),
    });
    const broken = new Error('listener broke');
    run.on('*', () => {
      throw broken;
    });
    run.on('task.started', () => {
      throw broken;
    });
    const events = record(run);
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(trace(events)).toEqual([
      'run started',
      'started a',
      'done a',
      'started b',
      'done b',
      'run done',
    ]);
    const types = events.map((event) => event.type);
    expect(failures.map((failure) => failure.type)).toEqual([
      'run.started',
      'task.started',
      'task.started',
      'task.done',
      'task.started',
      'task.started',
      'task.done',
      'run.done',
    ]);
    expect(failures.every((failure) => failure.error === broken)).toBe(true);
    expect(types).toHaveLength(6);
  });
});
