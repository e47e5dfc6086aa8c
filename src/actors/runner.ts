import { fromPromise } from 'xstate';
import type { RunnerInput } from '../machines/task.js';
import type { LogLevel, TaskContext } from '../types.js';
import type { RunEnvironment } from './environment.js';
import { runGroup } from './workflow.js';

/**
 * The `runner` actor of one run: a group runs its nested workflow, any other task calls its
 * function with a context bound to the task. A synchronous throw, a rejection with an `Error` or
 * with anything else all end as a rejection, which the task machine turns into `failed`.
 */
export function createRunnerLogic(env: RunEnvironment) {
  return fromPromise<unknown, RunnerInput>(({ input, signal, self }) => {
    const work =
      input.node.kind === 'group' ? runGroup(input.node, env, signal, self) : callRunner(input, signal, env);
    env.inflight.add(work);
    const forget = (): void => {
      env.inflight.delete(work);
    };
    work.then(forget, forget);
    return work;
  });
}

function callRunner(input: RunnerInput, signal: AbortSignal, env: RunEnvironment): Promise<unknown> {
  const { node } = input;
  const context = createTaskContext(input, signal, env);
  try {
    const run = node.run;
    if (!run) return Promise.reject(new Error(`task "${node.id}" has nothing to run`));
    return Promise.resolve(run(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

function createTaskContext(input: RunnerInput, signal: AbortSignal, env: RunEnvironment): TaskContext {
  const { node, owner, index } = input;
  const id = node.id;
  const log = (level: LogLevel) => (message: string) => {
    for (const line of String(message).split('\n')) {
      env.report({ type: 'task.log', time: env.now(), id, status: 'running', level, line });
    }
  };
  const context: TaskContext = {
    id,
    signal,
    log: { info: log('info'), detail: log('detail'), debug: log('debug') },
    progress(fraction, message) {
      const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
      const event = { type: 'task.progress', time: env.now(), id, status: 'running', fraction: clamped } as const;
      env.report(message === undefined ? event : { ...event, message });
    },
    produce(item) {
      owner.send({ type: 'task.produced', index, item: String(item) });
    },
    output(line, stream) {
      env.report({ type: 'task.log', time: env.now(), id, status: 'running', level: 'info', stream, line });
    },
  };
  if (node.item !== undefined) context.item = node.item;
  return context;
}
