import type { ActorLogic, AnyActorRef, EventObject, Snapshot } from 'xstate';
import type { RunnerInput } from '../machines/task.js';
import type { LogLevel, TaskContext } from '../types.js';
import { formatDurationMs } from '../duration.js';
import { MAX_DELAY_MS } from '../machines/checks.js';
import type { RunEnvironment } from './environment.js';
import { runGroup } from './workflow.js';

/** One runner's cancellation, created only when the runner asks for its signal. */
interface Abort {
  controller: AbortController | undefined;
  stopped: boolean;
  work: Promise<unknown> | undefined;
  /** Clears the timeout's timers. */
  clear: (() => void) | undefined;
}

type RunnerSnapshot = Snapshot<unknown> & { input: RunnerInput | undefined; abort: Abort };
type RunnerEvent =
  { type: 'runner.resolve'; data: unknown } | { type: 'runner.reject'; data: unknown };

/**
 * The `runner` actor of one run, a promise actor in the manner of XState's `fromPromise`: it
 * settles with the task's work, and its `AbortSignal` aborts when the actor is stopped, that is,
 * when the task leaves `running`. The `AbortController` is made only when the runner reads
 * `signal`, which saves most of a no-op task's cost. A group runs its nested workflow; any other
 * task calls its function. A synchronous throw, a rejection with an `Error` or with anything else
 * all end as an error, which the task machine turns into `failed`.
 */
export function createRunnerLogic(
  env: RunEnvironment,
): ActorLogic<RunnerSnapshot, RunnerEvent, RunnerInput> {
  return {
    config: undefined,
    transition: (snapshot, event) => {
      if (snapshot.status !== 'active') return snapshot;
      const type = (event as EventObject).type;
      if (type === 'runner.resolve' || type === 'runner.reject') {
        const { data } = event as RunnerEvent;
        const settled =
          type === 'runner.resolve'
            ? { status: 'done', output: data }
            : { status: 'error', error: data };
        return { ...snapshot, ...settled, input: undefined } as RunnerSnapshot;
      }
      if (type === 'xstate.stop') {
        stop(snapshot.abort, env);
        return { ...snapshot, status: 'stopped', input: undefined };
      }
      return snapshot;
    },
    start: (snapshot, { self }) => {
      const input = snapshot.input;
      if (snapshot.status !== 'active' || !input) return;
      const work = begin(input, snapshot.abort, self, env);
      snapshot.abort.work = work;
      work.then(
        (data) => settle(self, { type: 'runner.resolve', data }),
        (data) => settle(self, { type: 'runner.reject', data }),
      );
    },
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      input,
      abort: { controller: undefined, stopped: false, work: undefined, clear: undefined },
    }),
    getPersistedSnapshot: (snapshot) => ({ ...snapshot, abort: undefined }),
  };
}

function settle(self: AnyActorRef, event: RunnerEvent): void {
  if ((self.getSnapshot() as Snapshot<unknown>).status !== 'active') return;
  self.send(event);
}

/** The task left `running`: abort its signal, and keep its work in flight until it settles. */
function stop(abort: Abort, env: RunEnvironment): void {
  abort.stopped = true;
  abort.clear?.();
  abort.controller?.abort(new DOMException('The task was cancelled.', 'AbortError'));
  const work = abort.work;
  if (!work) return;
  env.inflight.add(work);
  const forget = (): void => {
    env.inflight.delete(work);
  };
  work.then(forget, forget);
}

function signalOf(abort: Abort): AbortSignal {
  if (!abort.controller) {
    abort.controller = new AbortController();
    if (abort.stopped)
      abort.controller.abort(new DOMException('The task was cancelled.', 'AbortError'));
  }
  return abort.controller.signal;
}

/** C0 control characters and DEL. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a task failed when it ran past its `timeout`. */
export class TaskTimeoutError extends Error {
  readonly reason = 'timeout';
  readonly elapsedMs: number;

  constructor(timeoutMs: number, elapsedMs: number) {
    super(`timed out after ${formatDurationMs(timeoutMs)}`);
    this.name = 'TaskTimeoutError';
    this.elapsedMs = elapsedMs;
  }
}

function begin(
  input: RunnerInput,
  abort: Abort,
  self: AnyActorRef,
  env: RunEnvironment,
): Promise<unknown> {
  const work = call(input, abort, self, env);
  const timeout = input.node.timeout;
  return timeout === undefined ? work : withTimeout(work, timeout, abort, env);
}

/**
 * Races the work against its timeout. When it expires, the signal aborts (a shell task's process
 * group is terminated) and the attempt fails once the work settles, or after the grace period
 * if it ignores the signal.
 */
function withTimeout(work: Promise<unknown>, timeout: number, abort: Abort, env: RunEnvironment) {
  const { clock } = env;
  const started = env.now();
  return new Promise<unknown>((resolve, reject) => {
    let expired: TaskTimeoutError | undefined;
    let fallback: unknown;
    const timer = clock.setTimeout(() => {
      expired = new TaskTimeoutError(timeout, env.now() - started);
      signalOf(abort);
      abort.controller?.abort(expired);
      fallback = clock.setTimeout(
        () => reject(expired),
        Math.min(MAX_DELAY_MS, env.graceMs + 1000),
      );
    }, timeout);
    abort.clear = () => {
      clock.clearTimeout(timer);
      if (fallback !== undefined) clock.clearTimeout(fallback);
    };
    work.then(
      (value) => {
        abort.clear?.();
        if (expired) reject(expired);
        else resolve(value);
      },
      (error: unknown) => {
        abort.clear?.();
        reject(expired ?? error);
      },
    );
  });
}

function call(
  input: RunnerInput,
  abort: Abort,
  self: AnyActorRef,
  env: RunEnvironment,
): Promise<unknown> {
  const { node } = input;
  try {
    if (node.kind === 'group') return runGroup(node, env, signalOf(abort), self);
    const run = node.run;
    if (!run) return Promise.reject(new Error(`task "${node.id}" has nothing to run`));
    return Promise.resolve(run(createTaskContext(input, abort, env)));
  } catch (error) {
    return Promise.reject(error);
  }
}

function createTaskContext(input: RunnerInput, abort: Abort, env: RunEnvironment): TaskContext {
  return new RunnerContext(input, abort, env);
}

/**
 * A runner's context. A class so that a task that uses none of it costs one object: each member
 * is made on first access, bound, so that `({ signal, progress }) => …` works.
 */
class RunnerContext implements TaskContext {
  readonly id: string;
  readonly item?: string;
  readonly #input: RunnerInput;
  readonly #abort: Abort;
  readonly #env: RunEnvironment;

  constructor(input: RunnerInput, abort: Abort, env: RunEnvironment) {
    this.id = input.node.id;
    if (input.node.item !== undefined) this.item = input.node.item;
    this.#input = input;
    this.#abort = abort;
    this.#env = env;
  }

  get signal(): AbortSignal {
    return signalOf(this.#abort);
  }

  get log(): TaskContext['log'] {
    const line = (level: LogLevel) => (message: string) => {
      for (const text of String(message).split('\n')) this.#line(level, text, undefined);
    };
    return { info: line('info'), detail: line('detail'), debug: line('debug') };
  }

  get progress(): TaskContext['progress'] {
    return (fraction, message) => {
      const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
      const time = this.#env.now();
      const event = {
        type: 'task.progress',
        time,
        id: this.id,
        status: 'running',
        fraction: clamped,
      } as const;
      this.#env.report(message === undefined ? event : { ...event, message });
    };
  }

  get produce(): TaskContext['produce'] {
    const { owner, index } = this.#input;
    return (item) => {
      // An item becomes part of an id, a file name and terminal output.
      if (typeof item !== 'string' || item === '' || CONTROL.test(item)) {
        const got = typeof item === 'string' ? JSON.stringify(item) : String(item);
        throw new TypeError(
          `produce expects a non-empty string without control characters, such as a file path; got ${got}`,
        );
      }
      owner.send({ type: 'task.produced', index, item });
    };
  }

  get output(): TaskContext['output'] {
    return (line, stream) => this.#line('info', line, stream);
  }

  /** Reports one line the task logged, or one line its process printed on `stream`. */
  #line(level: LogLevel, line: string, stream: 'stdout' | 'stderr' | undefined): void {
    const time = this.#env.now();
    const event = { type: 'task.log', time, id: this.id, status: 'running', level, line } as const;
    this.#env.report(stream === undefined ? event : { ...event, stream });
  }
}
