/** Shared test utilities: deferred promises, event traces and runners the test controls. */
import type {
  OrchestratorInput,
  Run,
  TaskchartEvent,
  TaskContext,
  TaskResult,
} from '../src/index.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Collects every event of a run, in order. Call it right after `run()`. */
export function record(run: Run): TaskchartEvent[] {
  const events: TaskchartEvent[] = [];
  run.on('*', (event) => events.push(event));
  return events;
}

/**
 * One short line per lifecycle event: `started a`, `done a`, `failed a: message`,
 * `cancelled b (prerequisite a)`, `added per[x]`, `file split x`, `run done`.
 * Progress and log lines are left out.
 */
export function trace(events: readonly TaskchartEvent[]): string[] {
  const lines: string[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'run.started':
        lines.push('run started');
        break;
      case 'task.added':
        lines.push(`added ${event.id}`);
        break;
      case 'task.started':
        lines.push(`started ${event.id}`);
        break;
      case 'task.file':
        lines.push(`file ${event.id} ${event.path}`);
        break;
      case 'task.done':
        lines.push(`done ${event.id}`);
        break;
      case 'task.failed':
        lines.push(`failed ${event.id}: ${event.error.message}`);
        break;
      case 'task.cancelled': {
        const why =
          event.prerequisite === undefined ? event.reason : `${event.reason} ${event.prerequisite}`;
        lines.push(`cancelled ${event.id} (${why})`);
        break;
      }
      case 'run.done':
        lines.push(`run ${event.status}`);
        break;
      default:
        break;
    }
  }
  return lines;
}

/** Ids of `task.started` events, in order. */
export function starts(events: readonly TaskchartEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'task.started' ? [event.id] : []));
}

/** Resolves with the first event (from now on) that matches. */
export function waitFor(
  run: Run,
  match: (event: TaskchartEvent) => boolean,
): Promise<TaskchartEvent> {
  return new Promise((resolve) => {
    const stop = run.on('*', (event) => {
      if (!match(event)) return;
      stop();
      resolve(event);
    });
  });
}

/** Resolves when the given task emits the given event type. */
export function waitForTask(
  run: Run,
  type: TaskchartEvent['type'],
  id: string,
): Promise<TaskchartEvent> {
  return waitFor(run, (event) => event.type === type && 'id' in event && event.id === id);
}

/** Rejects with the signal's reason once it aborts. */
export function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Yields to the event loop `count` times (macrotask turns). */
export async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Runners the test finishes by hand: each task waits for its gate, which the test opens or
 * fails; an abort of the task's signal rejects the runner. Records calls and aborts per id.
 */
export function gates() {
  const open = new Map<string, Deferred<void>>();
  const calls: string[] = [];
  const abortedIds: string[] = [];
  const gate = (id: string): Deferred<void> => {
    let found = open.get(id);
    if (!found) {
      found = deferred();
      open.set(id, found);
    }
    return found;
  };
  return {
    calls,
    aborted: abortedIds,
    runner: (ctx: TaskContext): Promise<void> => {
      calls.push(ctx.id);
      ctx.signal.addEventListener('abort', () => abortedIds.push(ctx.id), { once: true });
      return Promise.race([gate(ctx.id).promise, aborted(ctx.signal)]);
    },
    /** Lets the task finish successfully. */
    open: (id: string): void => gate(id).resolve(),
    /** Makes the task's runner reject; only call it once the task has started. */
    fail: (id: string, error: unknown): void => gate(id).reject(error),
  };
}

/** A clock whose time moves by one millisecond at each reading. */
export function steppingClock(start = 1_000) {
  let time = start;
  return {
    now: () => ++time,
    setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
    clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

/** Status, reason and prerequisite of every task, for compact comparisons. */
export function outcome(tasks: Record<string, TaskResult>): Record<string, string> {
  const view: Record<string, string> = {};
  for (const [id, task] of Object.entries(tasks)) {
    if (task.status === 'cancelled') {
      const why =
        task.prerequisite === undefined ? task.reason : `${task.reason} ${task.prerequisite}`;
      view[id] = `cancelled ${why}`;
    } else if (task.status === 'failed') {
      view[id] = `failed: ${task.error.message}`;
    } else {
      view[id] = task.status;
    }
  }
  return view;
}

/** The highest number of tasks between their start and their end, read from the events. */
export function peakRunning(
  events: readonly TaskchartEvent[],
  ids: (id: string) => boolean,
): number {
  let running = 0;
  let peak = 0;
  for (const event of events) {
    if (!('id' in event) || !ids(event.id)) continue;
    if (event.type === 'task.started') running += 1;
    const ended = ['task.done', 'task.failed', 'task.cancelled'].includes(event.type);
    const wasStarted = events.some(
      (other) => other.type === 'task.started' && other.id === event.id,
    );
    if (ended && wasStarted) running -= 1;
    peak = Math.max(peak, running);
  }
  return peak;
}

/** A runner that counts how many of its kind run at once, holding its slot for a few turns. */
export function counter() {
  const state = { running: 0, peak: 0, calls: 0 };
  const runner = async (ctx: TaskContext): Promise<void> => {
    state.calls += 1;
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    try {
      await Promise.resolve();
      await turns(1 + (ctx.id.length % 3));
    } finally {
      state.running -= 1;
    }
  };
  return { state, runner };
}

/** A compiled task as the orchestrator receives it, for tests that build one by hand. */
export type GraphNode = OrchestratorInput['scope']['nodes'][number];

/** A plain compiled task named `id`, with `fields` over the defaults. */
export function graphNode(id: string, fields: Partial<GraphNode> = {}): GraphNode {
  return {
    id,
    description: id,
    kind: 'task',
    needs: [],
    dependents: [],
    run: undefined,
    producer: -1,
    feeds: undefined,
    scope: undefined,
    item: undefined,
    timeout: undefined,
    retry: undefined,
    source: undefined,
    ...fields,
  };
}
