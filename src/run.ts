import {
  toPromise,
  type ActorRefFrom,
  type InspectionEvent,
  type Observer,
  type PromiseActorLogic,
} from 'xstate';
import { createOrchestrator, createTurnBudget } from './actors/orchestrate.js';
import { createRunnerLogic } from './actors/runner.js';
import type { RunEnvironment } from './actors/environment.js';
import { checkLimits, MAX_DELAY_MS } from './machines/checks.js';
import { compileWorkflow, type CompiledScope } from './machines/graph.js';
import { WorkflowValidationError } from './errors.js';
import type { orchestratorMachine } from './machines/orchestrator.js';
import { taskMachine, type RunnerInput, type TaskMachine } from './machines/task.js';
import { createStatusTable } from './status.js';
import type {
  Clock,
  RunResult,
  RunStatus,
  TaskchartEvent,
  TaskchartEventType,
  TaskResult,
  WorkflowDefinition,
} from './types.js';

/** Options of one run; each overrides the workflow's own setting. */
export interface RunOptions {
  /** How many tasks run at once; 0 = unlimited. Default: the workflow's `maxParallel`, else 0. */
  maxParallel?: number;
  /** Cancel everything at the first failure. Default: the workflow's `failFast`, else `false`. */
  failFast?: boolean;
  /**
   * After a cancellation, how long the run waits for aborted runners to settle before it reports
   * its result anyway, in ms. Default 5000 plus one second of margin.
   */
  graceMs?: number;
  /** Source of time. Default: the system clock. */
  clock?: Clock;
  /** Receives XState inspection events of the orchestrator and every task actor. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Called when an event listener throws; the run goes on either way. Default: ignore. */
  onListenerError?: (error: unknown, event: TaskchartEvent) => void;
}

type Listener<T extends TaskchartEventType | '*'> = (
  event: T extends '*' ? TaskchartEvent : Extract<TaskchartEvent, { type: T }>,
) => void;

/**
 * A run in progress. It starts on the next microtask, so listeners added right away see
 * everything.
 */
export interface Run {
  /** Resolves once every task is final, every runner has settled and `run.done` was emitted. */
  readonly result: Promise<RunResult>;
  /** The orchestrator actor, for inspection. */
  readonly actor: ActorRefFrom<typeof orchestratorMachine>;
  /** Subscribes to one event type, or `'*'` for all; returns the unsubscribe function. */
  on<T extends TaskchartEventType | '*'>(type: T, listener: Listener<T>): () => void;
  /** A task's current state. */
  status(id: string): TaskResult | undefined;
  /** Every task's current state, nested tasks and for-each instances included. */
  statuses(): Record<string, TaskResult>;
  /** One line per task: `id: description [status]`. */
  listing(): string;
  /** Interrupts the run: tasks not started are cancelled, running ones aborted (reason `interrupted`). */
  cancel(): void;
}

export interface Workflow {
  readonly definition: WorkflowDefinition;
  /** Starts a run of the workflow. */
  run(options?: RunOptions): Run;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Identity helper that keeps a workflow literal's types. */
export function defineWorkflow<T extends WorkflowDefinition>(definition: T): T {
  return definition;
}

/**
 * Validates a workflow (ids, prerequisites, cycles, limits, every problem reported together) and
 * returns it ready to run. Throws `WorkflowValidationError` before anything runs.
 *
 * @example
 * const workflow = createWorkflow({
 *   maxParallel: 2,
 *   tasks: [
 *     { id: 'fetch', run: async ({ signal }) => download(signal) },
 *     { id: 'build', needs: ['fetch'], run: async ({ progress }) => progress(1) },
 *   ],
 * });
 * const result = await workflow.run().result; // { status: 'done', tasks: { fetch: …, build: … } }
 */
export function createWorkflow(definition: WorkflowDefinition): Workflow {
  const scope = compileWorkflow(definition);
  return { definition, run: (options = {}) => startRun(scope, options) };
}

/** Validates and runs a workflow, resolving with its result. */
export function runWorkflow(
  definition: WorkflowDefinition,
  options?: RunOptions,
): Promise<RunResult> {
  return createWorkflow(definition).run(options).result;
}

function startRun(scope: CompiledScope, options: RunOptions): Run {
  const invalid = checkLimits(options.maxParallel, options.failFast, undefined, 'options');
  const grace = options.graceMs;
  const graceOk = typeof grace === 'number' && grace >= 0 && grace <= MAX_DELAY_MS;
  if (grace !== undefined && !graceOk) {
    invalid.push({
      field: 'options.graceMs',
      message: `must be a number of ms >= 0 and at most ${MAX_DELAY_MS}, got ${String(grace)}`,
    });
  }
  const given = options.clock as Partial<Record<keyof Clock, unknown>> | undefined;
  const clockParts = ['now', 'setTimeout', 'clearTimeout'] as const;
  if (given !== undefined && !clockParts.every((part) => typeof given?.[part] === 'function')) {
    invalid.push({
      field: 'options.clock',
      message: 'must have the functions now, setTimeout and clearTimeout',
    });
  }
  if (invalid.length > 0) throw new WorkflowValidationError(invalid);
  const clock = options.clock ?? systemClock;
  const maxParallel = options.maxParallel ?? scope.maxParallel;
  const failFast = options.failFast ?? scope.failFast;
  const graceMs = options.graceMs ?? 5000;
  const table = createStatusTable();
  const listeners = new Map<string, Set<(event: TaskchartEvent) => void>>();
  let closed = false;

  const dispatch = (
    event: TaskchartEvent,
    listenersOf: Set<(event: TaskchartEvent) => void> | undefined,
  ) => {
    if (!listenersOf) return;
    for (const listener of listenersOf) {
      try {
        listener(event);
      } catch (error) {
        try {
          options.onListenerError?.(error, event);
        } catch {
          // A throwing error handler must not reach the orchestrator either.
        }
      }
    }
  };
  const pending: TaskchartEvent[] = [];
  let dispatching = false;
  const report = (event: TaskchartEvent): void => {
    if (closed) return;
    if (event.type === 'task.log' || event.type === 'task.progress' || event.type === 'task.file') {
      // A stopping task may still print (cleanup, a shell's "Terminated"): keep those lines,
      // marked with the final status; progress and files after the end mean nothing.
      const status = table.statusOf(event.id);
      if (status === 'done' || status === 'failed' || status === 'cancelled') {
        if (event.type !== 'task.log') return;
        event = { ...event, status };
      }
    }
    table.apply(event);
    // An event caused by a listener waits until every listener has had the current one, so all
    // listeners see one order.
    pending.push(event);
    if (dispatching) return;
    dispatching = true;
    try {
      for (let next = pending.shift(); next; next = pending.shift()) {
        dispatch(next, listeners.get(next.type));
        dispatch(next, listeners.get('*'));
      }
    } finally {
      dispatching = false;
    }
  };

  const env: RunEnvironment = {
    now: () => clock.now(),
    clock,
    graceMs,
    report,
    inflight: new Set(),
    interrupted: false,
    taskLogic: taskMachine,
    budget: createTurnBudget(),
  };
  // The runner is a leaner promise actor than `fromPromise`; its snapshot type differs.
  const runner = createRunnerLogic(env) as unknown as PromiseActorLogic<unknown, RunnerInput>;
  env.taskLogic = taskMachine.provide({ actors: { runner } }) as TaskMachine;

  const actor = createOrchestrator({
    taskLogic: env.taskLogic,
    budget: env.budget,
    input: {
      scope,
      maxParallel,
      failFast,
      now: env.now,
      report,
      cancelReason: () => 'interrupted',
      announce: true,
    },
    clock,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });

  const finish = async (): Promise<RunResult> => {
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    const done = toPromise(actor);
    actor.start();
    actor.send({ type: 'run.begin' });
    let status: RunStatus;
    let error: string | undefined;
    try {
      const output = await done;
      status = output.status;
      error = output.error;
    } catch (thrown) {
      status = 'failed';
      error = `the orchestrator stopped: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
    }
    await settleInflight(env.inflight, clock, Math.min(MAX_DELAY_MS, graceMs + 1000));
    const completedAt = clock.now();
    report({ type: 'run.done', time: completedAt, status, ...(error ? { error } : {}) });
    closed = true;
    const result: RunResult = {
      status,
      tasks: table.results(),
      startedAt: table.startedAt() ?? completedAt,
      completedAt,
    };
    if (error) result.error = error;
    return result;
  };

  const result = finish();
  return {
    result,
    actor,
    on(type, listener) {
      const set = listeners.get(type) ?? new Set();
      listeners.set(type, set);
      const added = listener as (event: TaskchartEvent) => void;
      set.add(added);
      return () => set.delete(added);
    },
    status: (id) => table.get(id),
    statuses: () => table.results(),
    listing: () => table.listing(),
    cancel() {
      if (closed || actor.getSnapshot().status !== 'active') return;
      env.interrupted = true;
      actor.send({ type: 'run.cancel', reason: 'interrupted' });
    },
  };
}

/** Waits for runners still settling after an abort, but never longer than `limitMs`. */
async function settleInflight(
  inflight: Set<Promise<unknown>>,
  clock: Clock,
  limitMs: number,
): Promise<void> {
  if (inflight.size === 0) return;
  let timer: unknown;
  const deadline = new Promise<void>((resolve) => {
    timer = clock.setTimeout(resolve, limitMs);
  });
  try {
    await Promise.race([Promise.allSettled([...inflight]), deadline]);
  } finally {
    clock.clearTimeout(timer);
  }
}
