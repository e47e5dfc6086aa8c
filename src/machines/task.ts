import { assign, fromPromise, setup, type AnyActorRef } from 'xstate';
import type { CancelReason, FinalTaskStatus, TaskError } from '../types.js';
import type { GraphNode } from './graph.js';

/** What a task actor is created with. */
export interface TaskMachineInput {
  /** The task's index in its scope; the orchestrator finds the task by it. */
  index: number;
  id: string;
  description: string;
  /** The task's definition, handed to the runner. */
  node: GraphNode;
  /** The orchestrator that owns the task; items the task produces are sent to it. */
  owner: AnyActorRef;
  /** Source of time for `startedAt` and `completedAt`. */
  now: () => number;
  /** Start at once (`scheduled → running` in the first step) instead of waiting for `start`. */
  startNow: boolean;
}

export interface TaskMachineContext extends TaskMachineInput {
  startedAt: number | undefined;
  completedAt: number | undefined;
  error: TaskError | undefined;
  reason: CancelReason | undefined;
  prerequisite: string | undefined;
}

export type TaskMachineEvent =
  | { type: 'start' }
  | { type: 'cancel'; reason: CancelReason; prerequisite?: string };

/** The task's outcome, the output of its final state. */
export interface TaskOutcome {
  index: number;
  id: string;
  status: FinalTaskStatus;
  startedAt: number | undefined;
  completedAt: number | undefined;
  error: TaskError | undefined;
  reason: CancelReason | undefined;
  prerequisite: string | undefined;
}

/** What the `runner` actor receives: which task to run. */
export interface RunnerInput {
  index: number;
  node: GraphNode;
  owner: AnyActorRef;
}

/**
 * Turns whatever a runner rejected with into the error kept on the failed task: `Error`s keep
 * their message (and `exitCode`/`signal` when a process failed), anything else is described.
 */
export function describeError(error: unknown): TaskError {
  if (error instanceof Error) {
    const described: TaskError = { message: error.message || error.name };
    const { exitCode, signal } = error as { exitCode?: unknown; signal?: unknown };
    if (typeof exitCode === 'number') described.exitCode = exitCode;
    if (typeof signal === 'string') described.signal = signal;
    return described;
  }
  if (typeof error === 'string') return { message: error };
  let text: string;
  try {
    text = JSON.stringify(error) ?? String(error);
  } catch {
    text = String(error);
  }
  return { message: `the task failed with a non-Error value: ${text}` };
}

const stamp = (context: TaskMachineContext): number => context.now();

/**
 * One task: `scheduled → running → done | failed | cancelled`. It leaves `scheduled` on `start`,
 * or at once when created with `startNow`. While `running` it invokes the `runner` actor, which
 * the engine provides (see `src/actors`); leaving `running` on `cancel` stops the runner, which
 * aborts its `AbortSignal`.
 *
 * @example
 * const logic = taskMachine.provide({ actors: { runner: fromPromise(async () => {}) } });
 * const task = createActor(logic, { input: { index: 0, id: 'a', description: 'a', node, owner, now: Date.now, startNow: false } });
 * task.start();
 * task.send({ type: 'start' });
 */
export const taskMachine = setup({
  types: {
    input: {} as TaskMachineInput,
    context: {} as TaskMachineContext,
    events: {} as TaskMachineEvent,
    output: {} as TaskOutcome,
  },
  actors: {
    runner: fromPromise<unknown, RunnerInput>(async () => {
      throw new Error('taskMachine needs a "runner" actor; provide one with taskMachine.provide');
    }),
  },
  actions: {
    cancelWith: assign(({ context, event }) => {
      if (event.type !== 'cancel') return {};
      return {
        reason: event.reason,
        prerequisite: event.prerequisite,
        completedAt: stamp(context),
      };
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({
    ...input,
    startedAt: undefined,
    completedAt: undefined,
    error: undefined,
    reason: undefined,
    prerequisite: undefined,
  }),
  initial: 'scheduled',
  states: {
    scheduled: {
      always: {
        guard: ({ context }) => context.startNow,
        target: 'running',
        actions: assign({ startedAt: ({ context }) => stamp(context) }),
      },
      on: {
        start: { target: 'running', actions: assign({ startedAt: ({ context }) => stamp(context) }) },
        cancel: { target: 'cancelled', actions: 'cancelWith' },
      },
    },
    running: {
      invoke: {
        src: 'runner',
        input: ({ context }) => ({ index: context.index, node: context.node, owner: context.owner }),
        onDone: { target: 'done', actions: assign({ completedAt: ({ context }) => stamp(context) }) },
        onError: {
          target: 'failed',
          actions: assign({
            error: ({ event }) => describeError(event.error),
            completedAt: ({ context }) => stamp(context),
          }),
        },
      },
      on: { cancel: { target: 'cancelled', actions: 'cancelWith' } },
    },
    done: { type: 'final', output: { status: 'done' } },
    failed: { type: 'final', output: { status: 'failed' } },
    cancelled: { type: 'final', output: { status: 'cancelled' } },
  },
  output: ({ context, event }) => ({
    index: context.index,
    id: context.id,
    status: (event.output as { status: FinalTaskStatus }).status,
    startedAt: context.startedAt,
    completedAt: context.completedAt,
    error: context.error,
    reason: context.reason,
    prerequisite: context.prerequisite,
  }),
});

export type TaskMachine = typeof taskMachine;
