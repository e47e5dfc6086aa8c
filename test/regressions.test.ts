/**
 * Counterexamples found by the property tests in `properties.test.ts`, shrunk and kept. Each
 * name describes the case; the line above it gives its root cause.
 */
import { describe, expect, it } from 'vitest';
import { createWorkflow } from '../src/index.js';
import { outcome, record } from './helpers.js';
import { checkRun, type Plan, type RunSpec } from './property-model.js';

const ok: Plan = { outcome: 'succeed', duration: 0 };
const boom: Plan = { outcome: 'throw', duration: 0 };
const perItem = [ok, ok, ok, ok];
const plain = { maxParallel: 0, failFast: false, limitsIn: 'workflow' } as const;

describe('engine regressions', () => {
  // Root cause: a group cancelled before it starts never runs its nested orchestrator, so nothing cancels its children.
  it('cancels the children of a group that is interrupted before the run begins', async () => {
    const spec: RunSpec = {
      ...plain,
      tasks: [
        { kind: 'group', maxParallel: 0, failFast: false, children: [{ kind: 'task', plan: ok }] },
      ],
      interruptAt: -1,
    };
    await checkRun(spec);
  });

  // Root cause: a group cancelled before it starts never runs its nested orchestrator, so nothing cancels its children.
  it('cancels the children of a group whose prerequisite failed, with reason parent', async () => {
    const run = createWorkflow({
      tasks: [
        { id: 'a', run: () => Promise.reject(new Error('no')) },
        { id: 'g', needs: ['a'], tasks: [{ id: 'c', run: () => {} }] },
      ],
    }).run();
    const result = await run.result;

    expect(outcome(result.tasks)).toEqual({
      a: 'failed: no',
      g: 'cancelled prerequisite a',
      'g/c': 'cancelled parent',
    });
  });

  // Root cause: cancel() reports a for-each at once, while the plain prerequisite it names is reported only when its machine answers.
  it('reports a prerequisite cancelled before the for-each that names it', async () => {
    const spec: RunSpec = {
      ...plain,
      tasks: [
        { kind: 'task', plan: boom },
        { kind: 'task', needs: [0], plan: ok },
        { kind: 'task', plan: ok },
        { kind: 'forEach', producer: 1, perItem },
      ],
    };
    await checkRun(spec);
  });
});

describe('cases the checker once got wrong', () => {
  // Root cause (checker): a for-each starts with its first instance while its producer still runs.
  it('starts a for-each with its first instance before its producer is done', async () => {
    const spec: RunSpec = {
      ...plain,
      tasks: [
        { kind: 'task', plan: ok, produces: [{ at: 0, item: 0 }] },
        { kind: 'forEach', producer: 0, perItem },
        { kind: 'task', plan: ok },
      ],
    };
    const { events } = await checkRun(spec);
    const order = events.flatMap((e) =>
      e.type === 'task.started' || e.type === 'task.done' ? [`${e.type} ${e.id}`] : [],
    );
    expect(order.indexOf('task.started t1')).toBeLessThan(order.indexOf('task.done t0'));
  });

  // Root cause (checker): an instance is not a child of its group in the model, yet its failure fails the group.
  it('fails a fail-fast group when an instance inside it fails', async () => {
    const spec: RunSpec = {
      ...plain,
      tasks: [
        {
          kind: 'group',
          maxParallel: 0,
          failFast: true,
          children: [
            { kind: 'task', plan: ok, produces: [{ at: 0, item: 1 }] },
            { kind: 'forEach', producer: 0, perItem: [ok, boom, ok, ok] },
            { kind: 'task', plan: ok },
          ],
        },
        { kind: 'task', plan: ok },
      ],
    };
    const { result } = await checkRun(spec);
    expect(outcome(result.tasks)).toMatchObject({
      t0: 'failed: 1 task of the group failed: t0/t1[b]',
    });
  });

  // Root cause (checker): a runner that returned at once may still be cancelled by a failure the engine handles first.
  it('cancels fail-fast a task whose runner returned in the same turn as a failing one', async () => {
    const spec: RunSpec = {
      ...plain,
      failFast: true,
      tasks: [
        { kind: 'task', plan: boom },
        { kind: 'task', plan: ok },
        { kind: 'forEach', producer: 0, perItem },
      ],
    };
    const { result } = await checkRun(spec);
    expect(outcome(result.tasks)).toMatchObject({
      t0: 'failed: t0 broke',
      t1: 'cancelled fail-fast',
    });
  });
});

describe('review regressions', () => {
  // Root cause: instances waiting for a for-each's other prerequisite were recorded on the
  // compiled nodes, which every run of the same workflow shares.
  it('keeps two runs of one workflow independent when for-each instances wait on a prerequisite', async () => {
    const gates: Record<string, () => void> = {};
    const wait = (name: string) => new Promise<void>((resolve) => (gates[name] = resolve));
    const order: string[] = [];
    let runNumber = 0;
    const workflow = createWorkflow({
      tasks: [
        { id: 'x', run: () => wait(`x${runNumber}`) },
        {
          id: 'y',
          run: async () => {
            await wait(`y${runNumber}`);
            order.push(`y done ${runNumber}`);
          },
        },
        { id: 'p', run: (ctx) => ctx.produce('a') },
        {
          id: 'fe',
          forEach: 'p',
          needs: ['x', 'y'],
          run: () => void order.push(`fe ran ${runNumber}`),
        },
      ],
    });
    for (runNumber = 1; runNumber <= 2; runNumber++) {
      const run = workflow.run();
      const added = new Promise<void>((resolve) => run.on('task.added', () => resolve()));
      await added;
      gates[`x${runNumber}`]!();
      await new Promise((resolve) => setImmediate(resolve));
      expect(run.status('fe[a]')?.status).toBe('scheduled');
      gates[`y${runNumber}`]!();
      expect((await run.result).status).toBe('done');
    }
    expect(order).toEqual(['y done 1', 'fe ran 1', 'y done 2', 'fe ran 2']);
  });

  // Root cause: lines a task printed while it was being stopped were reported as `running`
  // after its final event.
  it('marks a line printed after the task ended with the final status, and drops late progress', async () => {
    let late: (() => void) | undefined;
    const run = createWorkflow({
      tasks: [
        {
          id: 'a',
          run: (ctx) => {
            late = () => {
              ctx.log.info('cleaning up');
              ctx.progress(1);
            };
          },
        },
      ],
    }).run();
    const events = record(run);
    run.on('task.done', () => late?.());
    await run.result;
    const after = events.slice(events.findIndex((event) => event.type === 'task.done') + 1);
    expect(
      after.map((event) => [event.type, 'status' in event ? event.status : undefined]),
    ).toEqual([
      ['task.log', 'done'],
      ['run.done', 'done'],
    ]);
  });
});

describe('listener and option hardening', () => {
  it('finishes the run when both a listener and its error handler throw', async () => {
    const run = createWorkflow({ tasks: [{ id: 'a', run: () => {} }] }).run({
      onListenerError: () => {
        throw new Error('handler broke too');
      },
    });
    run.on('*', () => {
      throw new Error('listener broke');
    });
    expect((await run.result).status).toBe('done');
  });

  it('rejects a negative grace period before anything runs', () => {
    const workflow = createWorkflow({ tasks: [{ id: 'a', run: () => {} }] });
    expect(() => workflow.run({ graceMs: -1 })).toThrow(
      /options\.graceMs: must be a number of ms >= 0 and at most 2147483647, got -1/,
    );
  });
});
