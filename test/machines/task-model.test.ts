import { createActor, fromPromise, type AnyEventObject, type InputFrom } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { describe, expect, it } from 'vitest';
import { taskMachine, type TaskDefinition } from '../../src/index.js';

type TaskInput = InputFrom<typeof taskMachine>;
type RunnerInput = { index: number; node: TaskInput['node']; owner: TaskInput['owner'] };

const FINAL = ['done', 'failed', 'cancelled'];

function input(retries: number, clock: () => number): TaskInput {
  const retry =
    retries > 0 ? { retries, delay: 10, backoff: 2, maxDelay: 100, jitter: 0 } : undefined;
  return {
    index: 0,
    id: 'a',
    description: 'a',
    node: {
      id: 'a',
      description: 'a',
      kind: 'task',
      needs: [],
      dependents: [],
      run: (() => {}) as TaskDefinition['run'],
      producer: -1,
      feeds: undefined,
      scope: undefined,
      item: undefined,
      timeout: undefined,
      retry,
      source: undefined,
    },
    owner: undefined as never,
    now: clock,
    startNow: false,
    random: () => 0,
  };
}

/** The stimuli a task can get: commands from the orchestrator and what its runner and timer do. */
const EVENTS: AnyEventObject[] = [
  { type: 'start' },
  { type: 'cancel', reason: 'prerequisite', prerequisite: 'x' },
  { type: 'xstate.done.actor.0.task.running', output: 'ok' },
  { type: 'xstate.error.actor.0.task.running', error: new Error('boom') },
  { type: 'xstate.after.retryDelay.task.retrying' },
];

/** A live task whose runner and timers the test drives, step by step. */
function liveTask(retries: number) {
  let time = 0;
  const timers: (() => void)[] = [];
  const settles: { resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  const logic = taskMachine.provide({
    actors: {
      runner: fromPromise<unknown, RunnerInput>(
        () => new Promise((resolve, reject) => settles.push({ resolve, reject })),
      ),
    },
  });
  const actor = createActor(logic, {
    input: input(retries, () => ++time),
    clock: {
      setTimeout: (fn: () => void) => timers.push(fn),
      clearTimeout: () => {},
    },
  });
  actor.start();
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  const apply = async (event: AnyEventObject): Promise<void> => {
    if (event.type.startsWith('xstate.done.actor')) settles.shift()?.resolve('ok');
    else if (event.type.startsWith('xstate.error.actor'))
      settles.shift()?.reject(new Error('boom'));
    else if (event.type.startsWith('xstate.after')) timers.shift()?.();
    else actor.send(event as never);
    await flush();
  };
  return { actor, apply };
}

describe('task machine, model-based', () => {
  for (const retries of [0, 1, 2]) {
    const model = taskMachine.provide({
      actors: { runner: fromPromise<unknown, RunnerInput>(async () => {}) },
    });
    let time = 0;
    const paths = getShortestPaths(model, {
      input: input(retries, () => ++time),
      // The runner's and the timer's events are not in the machine's own event type.
      events: EVENTS as never,
      serializeState: (state) => JSON.stringify([state.value, state.context.attempt]),
    });

    it(`reaches every state once per attempt with ${retries} retries`, () => {
      const reached = paths.map(
        (path) => `${String(path.state.value)}#${path.state.context.attempt}`,
      );
      const attempts = Array.from({ length: retries + 1 }, (_, index) => index + 1);
      const expected = [
        'scheduled#1',
        'cancelled#1',
        ...attempts.flatMap((attempt) => [
          `running#${attempt}`,
          `done#${attempt}`,
          attempt <= retries ? `retrying#${attempt}` : `failed#${attempt}`,
          ...(attempt > 1 ? [`cancelled#${attempt}`] : []),
        ]),
      ];
      expect(new Set(reached)).toEqual(new Set(expected));
    });

    it.each(paths.map((path) => [path.steps.map((step) => step.event.type).join(' → '), path]))(
      `with ${retries} retries, a live task follows %s`,
      async (_name, path) => {
        const { actor, apply } = liveTask(retries);
        for (const step of path.steps.slice(1)) await apply(step.event);

        const snapshot = actor.getSnapshot();
        expect(snapshot.value).toBe(path.state.value);
        expect(snapshot.context.attempt).toBe(path.state.context.attempt);
        const value = String(snapshot.value);
        if (!FINAL.includes(value)) return;
        expect(snapshot.status).toBe('done');
        const output = snapshot.output!;
        expect(output.status).toBe(value);
        expect(output.attempts).toBe(snapshot.context.attempt);
        expect(output.completedAt).toBeGreaterThan(0);
        if (value === 'failed') expect(output.error?.message).toBe('boom');
        if (value === 'failed') expect(output.attempts).toBe(retries + 1);
        if (value === 'cancelled') expect(output).toMatchObject({ reason: 'prerequisite' });
        if (value !== 'cancelled' || snapshot.context.startedAt !== undefined) {
          expect(output.startedAt).toBeLessThan(output.completedAt!);
        }
      },
    );
  }
});
