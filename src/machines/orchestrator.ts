import { setup, type ActorRefFrom, type DoneActorEvent } from 'xstate';
import type { CancelReason, RunStatus, TaskchartEvent } from '../types.js';
import type { CompiledScope } from './graph.js';
import {
  begin,
  createScheduler,
  detectStuck,
  isFinished,
  isStuck,
  produce,
  queueStarts,
  reportRetry,
  settle,
  stopEverything,
  type Scheduler,
} from './scheduler.js';
import type { StartBudget } from './scheduler-state.js';
import type { TaskOutcome, TaskRetryingMessage } from './task.js';

export type { Command, Scheduler } from './scheduler.js';

export interface OrchestratorInput {
  scope: CompiledScope;
  /** Resolved limit; 0 = unlimited. */
  maxParallel: number;
  failFast: boolean;
  now: () => number;
  /** Receives every lifecycle event, in order. */
  report: (event: TaskchartEvent) => void;
  /** The reason this scope's tasks get when the scope itself is cancelled. */
  cancelReason: () => CancelReason;
  /** Whether to announce the scope's tasks with `run.started` (only the top scope does). */
  announce: boolean;
  /**
   * Starts allowed in this turn of the event loop, shared by every scope of a run (see
   * `createTurnBudget`). Without one, every ready task starts at once.
   */
  budget?: StartBudget;
}

export type OrchestratorEvent =
  | { type: 'run.begin' }
  /** Start the ready tasks the budget held back: the next chunk, in this turn or the next. */
  | { type: 'run.continue' }
  | { type: 'task.produced'; index: number; item: string }
  | { type: 'run.cancel'; reason?: CancelReason };

export interface OrchestratorOutput {
  status: RunStatus;
  failed: string[];
  /** Set when the run could not go on. */
  error: string | undefined;
}

export interface Context {
  s: Scheduler;
}

/**
 * Schedules one scope (a workflow or a group). Tasks waiting for prerequisites are plain data;
 * the executor turns `start` and `cancel` commands into task-machine actors, which report back
 * with `xstate.done.actor.*`. Scheduling begins on `run.begin`, sent right after the actor
 * starts. The run reaches `finished` when every task is final, and ends with an error naming
 * the stuck tasks instead of waiting forever when nothing can move.
 */
export const orchestratorMachine = setup({
  types: {
    input: {} as OrchestratorInput,
    context: {} as Context,
    events: {} as OrchestratorEvent | TaskRetryingMessage | DoneActorEvent<TaskOutcome>,
    output: {} as OrchestratorOutput,
  },
  actions: {
    begin: ({ context }) => begin(context.s),
    settle: ({ context, event }) => {
      if (!event.type.startsWith('xstate.done.actor.')) return;
      settle(context.s, (event as DoneActorEvent<TaskOutcome>).output);
      queueStarts(context.s);
    },
    produce: ({ context, event }) => {
      if (event.type !== 'task.produced') return;
      produce(context.s, event.index, event.item);
      queueStarts(context.s);
    },
    continue: ({ context }) => queueStarts(context.s),
    retrying: ({ context, event }) => {
      if (event.type === 'task.retrying') reportRetry(context.s, event);
    },
    cancelAll: ({ context, event }) => {
      if (event.type !== 'run.cancel') return;
      const s = context.s;
      const reason = event.reason ?? s.input.cancelReason();
      if (reason === 'interrupted') s.interrupted = true;
      stopEverything(s, reason);
    },
    cancelEarly: ({ context, event }) => {
      if (event.type !== 'run.cancel') return;
      context.s.cancelledEarly = event.reason ?? context.s.input.cancelReason();
    },
    detectStuck: ({ context }) => detectStuck(context.s),
  },
  guards: {
    finished: ({ context }) => isFinished(context.s),
    stuck: ({ context }) => isStuck(context.s),
  },
}).createMachine({
  id: 'orchestrator',
  context: ({ input }) => ({ s: createScheduler(input) }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'run.begin': { target: 'running', actions: 'begin' },
        'run.cancel': { actions: 'cancelEarly' },
      },
    },
    running: {
      on: {
        'xstate.done.actor.*': { actions: 'settle' },
        'run.continue': { actions: 'continue' },
        'task.produced': { actions: 'produce' },
        'task.retrying': { actions: 'retrying' },
        'run.cancel': { actions: 'cancelAll' },
      },
      always: [
        { guard: 'finished', target: 'finished' },
        { guard: 'stuck', target: 'finished', actions: 'detectStuck' },
      ],
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => {
    const s = context.s;
    const failed = s.failed.length > 0 || s.error !== undefined;
    const status: RunStatus = s.interrupted ? 'cancelled' : failed ? 'failed' : 'done';
    return { status, failed: s.failed, error: s.error };
  },
});

export type OrchestratorActor = ActorRefFrom<typeof orchestratorMachine>;
