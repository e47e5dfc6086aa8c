import { assign, emit, fromPromise, setup, type AnyActorRef } from 'xstate';
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
  /** Source of randomness for retry jitter, a number in [0, 1). */
  random: () => number;
}

export interface TaskMachineContext extends TaskMachineInput {
  /** The attempt running or last run, counting from 1. */
  attempt: number;
  /** How long the task waits before its next attempt. */
  retryDelayMs: number;
  startedAt: number | undefined;
  completedAt: number | undefined;
  error: TaskError | undefined;
  reason: CancelReason | undefined;
  prerequisite: string | undefined;
}

export type TaskMachineEvent =
  { type: 'start' } | { type: 'cancel'; reason: CancelReason; prerequisite?: string };

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
  attempts: number;
}

/** What a task tells its orchestrator when a failed attempt will be retried. */
export interface TaskRetryingMessage {
  type: 'task.retrying';
  index: number;
  attempt: number;
  error: TaskError;
  delayMs: number;
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
  // Reading a hostile value (a throwing getter, a revoked proxy) must not break the machine.
  try {
    return describe(error);
  } catch {
    return { message: 'the task failed with a value that could not be read' };
  }
}

function describe(error: unknown): TaskError {
  if (error instanceof Error) {
    const described: TaskError = { message: error.message || error.name };
    const { exitCode, signal, reason, elapsedMs } = error as unknown as Record<string, unknown>;
    if (typeof exitCode === 'number') described.exitCode = exitCode;
    if (typeof signal === 'string') described.signal = signal;
    if (reason === 'timeout') described.reason = 'timeout';
    if (typeof elapsedMs === 'number') described.elapsedMs = elapsedMs;
    return described;
  }
  if (typeof error === 'string') return { message: error };
  let text: string;
  try {
    text = JSON.stringify(error) ?? String(error);
  } catch {
    text = Object.prototype.toString.call(error);
  }
  return { message: `the task failed with a non-Error value: ${text}` };
}

const stamp = (context: TaskMachineContext): number => context.now();

/** The wait before the attempt after `attempt`: exponential, capped, minus up to `jitter` of it. */
function retryDelay(context: TaskMachineContext): number {
  const policy = context.node.retry;
  if (!policy) return 0;
  const base = Math.min(policy.maxDelay, policy.delay * policy.backoff ** (context.attempt - 1));
  return Math.round(base * (1 - policy.jitter * context.random()));
}

/**
 * One task: `scheduled → running → done | failed | cancelled`. It leaves `scheduled` on `start`,
 * or at once when created with `startNow`. While `running` it invokes the `runner` actor, which
 * the engine provides (see `src/actors`); leaving `running` on `cancel` stops the runner, which
 * aborts its `AbortSignal`. A failed attempt with retries left waits in `retrying` (exponential
 * backoff, capped, with jitter) and runs again, emitting `task.retrying` (the executor passes it to the orchestrator).
 *
 * @example
 * const logic = taskMachine.provide({ actors: { runner: fromPromise(async () => {}) } });
 * const task = createActor(logic, { input: { index: 0, id: 'a', description: 'a', node, owner, now: Date.now, startNow: false, random: Math.random } });
 * task.start();
 * task.send({ type: 'start' });
 */
export const taskMachine = setup({
  types: {
    input: {} as TaskMachineInput,
    context: {} as TaskMachineContext,
    events: {} as TaskMachineEvent,
    output: {} as TaskOutcome,
    emitted: {} as TaskRetryingMessage,
  },
  actors: {
    runner: fromPromise<unknown, RunnerInput>(async () => {
      throw new Error('taskMachine needs a "runner" actor; provide one with taskMachine.provide');
    }),
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelayMs,
  },
  guards: {
    startNow: ({ context }) => context.startNow,
    canRetry: ({ context }) => context.attempt <= (context.node.retry?.retries ?? 0),
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
  // Fields listed one by one: a spread of the input is a slow path at 100,000 tasks.
  context: ({ input }) => ({
    index: input.index,
    id: input.id,
    description: input.description,
    node: input.node,
    owner: input.owner,
    now: input.now,
    startNow: input.startNow,
    random: input.random,
    attempt: 1,
    retryDelayMs: 0,
    // Stamped here rather than by an action on the first step: one context copy less per task.
    startedAt: input.startNow ? input.now() : undefined,
    completedAt: undefined,
    error: undefined,
    reason: undefined,
    prerequisite: undefined,
  }),
  initial: 'scheduled',
  states: {
    scheduled: {
      always: { guard: 'startNow', target: 'running' },
      on: {
        start: {
          target: 'running',
          actions: assign({ startedAt: ({ context }) => stamp(context) }),
        },
        cancel: { target: 'cancelled', actions: 'cancelWith' },
      },
    },
    running: {
      invoke: {
        src: 'runner',
        input: ({ context }) => ({
          index: context.index,
          node: context.node,
          owner: context.owner,
        }),
        onDone: 'done',
        onError: [
          {
            guard: 'canRetry',
            target: 'retrying',
            actions: [
              assign({ error: ({ event }) => describeError(event.error) }),
              assign({ retryDelayMs: ({ context }) => retryDelay(context) }),
              emit(({ context }): TaskRetryingMessage => ({
                type: 'task.retrying',
                index: context.index,
                attempt: context.attempt,
                error: context.error ?? { message: 'failed' },
                delayMs: context.retryDelayMs,
              })),
            ],
          },
          {
            target: 'failed',
            actions: assign({
              error: ({ event }) => describeError(event.error),
              completedAt: ({ context }) => stamp(context),
            }),
          },
        ],
      },
      on: { cancel: { target: 'cancelled', actions: 'cancelWith' } },
    },
    retrying: {
      after: {
        retryDelay: {
          target: 'running',
          actions: assign({ attempt: ({ context }) => context.attempt + 1, error: undefined }),
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
    // A done task is stamped here, when it ends, rather than by an action: one copy less.
    completedAt: context.completedAt ?? stamp(context),
    error: context.error,
    reason: context.reason,
    prerequisite: context.prerequisite,
    attempts: context.attempt,
  }),
});

export type TaskMachine = typeof taskMachine;
