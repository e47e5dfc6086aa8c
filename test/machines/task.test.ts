import { createActor, fromCallback, fromPromise, toPromise, type InputFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../../src/index.js';
import { deferred, graphNode } from '../helpers.js';

type TaskInput = InputFrom<typeof taskMachine>;
type RunnerInput = { index: number; node: TaskInput['node']; owner: TaskInput['owner'] };

const owner = createActor(fromCallback(() => {})).start();

function taskInput(now: () => number): TaskInput {
  return {
    index: 4,
    id: 'build',
    description: 'Build it',
    node: graphNode('build', { description: 'Build it' }),
    owner,
    now,
    startNow: false,
    random: () => 0,
  };
}

/** A clock that reads 100, 200, 300, … */
function hundreds(): () => number {
  let time = 0;
  return () => (time += 100);
}

/** The task machine with a runner the test settles, recording what the runner was given. */
function controlledTask(startNow = false) {
  const settle = deferred<unknown>();
  const seen: { input?: RunnerInput; signal?: AbortSignal } = {};
  const logic = taskMachine.provide({
    actors: {
      runner: fromPromise<unknown, RunnerInput>(({ input, signal }) => {
        seen.input = input;
        seen.signal = signal;
        return settle.promise;
      }),
    },
  });
  const actor = createActor(logic, { input: { ...taskInput(hundreds()), startNow } });
  const states: string[] = [];
  actor.subscribe((snapshot) => states.push(String(snapshot.value)));
  return { actor, settle, seen, states };
}

describe('taskMachine', () => {
  it('goes scheduled → running → done with times from the injected clock', async () => {
    const { actor, settle, seen, states } = controlledTask();
    const output = toPromise(actor);
    actor.start();
    expect(actor.getSnapshot().value).toBe('scheduled');
    expect(seen.input).toBeUndefined();

    actor.send({ type: 'start' });
    expect(actor.getSnapshot().value).toBe('running');
    expect(seen.input).toMatchObject({ index: 4, node: { id: 'build' }, owner });
    settle.resolve('result');

    expect(await output).toEqual({
      index: 4,
      id: 'build',
      status: 'done',
      startedAt: 100,
      completedAt: 200,
      error: undefined,
      reason: undefined,
      prerequisite: undefined,
      attempts: 1,
    });
    expect(states).toEqual(['scheduled', 'running', 'done']);
  });

  it('enters running in its initial step when created with startNow', async () => {
    const { actor, settle, seen } = controlledTask(true);
    const output = toPromise(actor);
    const visited: string[] = [];
    const inspected = createActor(actor.logic, {
      input: { ...taskInput(hundreds()), startNow: true },
      inspect: (event) => {
        if (event.type === '@xstate.microstep')
          visited.push(String((event.snapshot as { value?: unknown }).value));
      },
    });
    inspected.start();
    expect(visited).toEqual(['running']);
    expect(inspected.getSnapshot().value).toBe('running');
    inspected.stop();

    actor.start();
    expect(actor.getSnapshot().value).toBe('running');
    expect(seen.input).toMatchObject({ index: 4, node: { id: 'build' } });
    settle.resolve(undefined);
    expect(await output).toMatchObject({ status: 'done', startedAt: 100, completedAt: 200 });
  });

  it('goes running → failed and keeps the error message and exit code', async () => {
    const { actor, settle, states } = controlledTask();
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    settle.reject(Object.assign(new Error('disk full'), { exitCode: 3 }));

    expect(await output).toMatchObject({
      status: 'failed',
      error: { message: 'disk full', exitCode: 3 },
      startedAt: 100,
      completedAt: 200,
      reason: undefined,
    });
    expect(states).toEqual(['scheduled', 'running', 'failed']);
  });

  it('describes a rejection with a non-Error value', async () => {
    const { actor, settle } = controlledTask();
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    settle.reject({ code: 1 });

    const { error } = await output;
    expect(error?.message).toContain('{"code":1}');
  });

  it('goes scheduled → cancelled with the reason and prerequisite, never running', async () => {
    const { actor, seen, states } = controlledTask();
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'cancel', reason: 'prerequisite', prerequisite: 'fetch' });

    expect(await output).toEqual({
      index: 4,
      id: 'build',
      status: 'cancelled',
      startedAt: undefined,
      completedAt: 100,
      error: undefined,
      reason: 'prerequisite',
      prerequisite: 'fetch',
      attempts: 1,
    });
    expect(seen.input).toBeUndefined();
    expect(states).toEqual(['scheduled', 'cancelled']);
  });

  it('aborts the runner signal when cancelled while running', async () => {
    const { actor, settle, seen, states } = controlledTask();
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    expect(seen.signal?.aborted).toBe(false);

    actor.send({ type: 'cancel', reason: 'interrupted' });
    expect(seen.signal?.aborted).toBe(true);
    // A runner that settles after the abort changes nothing.
    settle.resolve(undefined);

    expect(await output).toEqual({
      index: 4,
      id: 'build',
      status: 'cancelled',
      startedAt: 100,
      completedAt: 200,
      error: undefined,
      reason: 'interrupted',
      prerequisite: undefined,
      attempts: 1,
    });
    expect(states).toEqual(['scheduled', 'running', 'cancelled']);
  });

  it('fails with a clear message when no runner was provided', async () => {
    const actor = createActor(taskMachine, { input: taskInput(hundreds()) });
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });

    const result = await output;
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/provide one with taskMachine\.provide/);
  });
});
