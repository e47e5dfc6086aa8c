import type { RunStatus, TaskchartEvent, TaskResult } from './types.js';

/** Every task's state, rebuilt from the event stream alone. */
export interface StatusTable {
  apply(event: TaskchartEvent): void;
  /** Every task by id, in the order it was announced. */
  results(): Record<string, TaskResult>;
  runStatus(): RunStatus | undefined;
  runError(): string | undefined;
  startedAt(): number | undefined;
  completedAt(): number | undefined;
  /** One line per task: `id: description [status]`. */
  listing(): string;
}

/**
 * Creates a table that replays lifecycle events into task results. The run keeps one to answer
 * status queries, and any consumer of an event log can rebuild the same view with another.
 *
 * @example
 * const table = createStatusTable();
 * for (const line of lines) table.apply(JSON.parse(line));
 * console.log(table.listing());
 */
export function createStatusTable(): StatusTable {
  const tasks = new Map<string, TaskResult>();
  let status: RunStatus | undefined;
  let error: string | undefined;
  let started: number | undefined;
  let completed: number | undefined;

  const base = (id: string): TaskResult => {
    const known = tasks.get(id);
    if (known) return known;
    const added: TaskResult = { id, description: id, status: 'scheduled' };
    tasks.set(id, added);
    return added;
  };

  const settle = (id: string, next: TaskResult): void => {
    tasks.set(id, next);
  };

  const apply = (event: TaskchartEvent): void => {
    switch (event.type) {
      case 'run.started':
        started = event.time;
        for (const info of event.tasks) {
          tasks.set(info.id, { id: info.id, description: info.description, status: 'scheduled' });
        }
        return;
      case 'task.added':
        tasks.set(event.id, { id: event.id, description: event.task.description, status: 'scheduled' });
        return;
      case 'task.started': {
        const { id, description } = base(event.id);
        settle(id, { id, description, status: 'running', startedAt: event.time });
        return;
      }
      case 'task.retrying': {
        const prior = base(event.id);
        settle(event.id, { ...timing(prior), status: 'running', attempts: event.attempt + 1 });
        return;
      }
      case 'task.done': {
        const prior = base(event.id);
        settle(event.id, { ...timing(prior), status: 'done', completedAt: event.time });
        return;
      }
      case 'task.failed': {
        const prior = base(event.id);
        settle(event.id, {
          ...timing(prior),
          status: 'failed',
          error: event.error,
          completedAt: event.time,
        });
        return;
      }
      case 'task.cancelled': {
        const prior = base(event.id);
        const cancelled: TaskResult = {
          ...timing(prior),
          status: 'cancelled',
          reason: event.reason,
          completedAt: event.time,
        };
        if (event.prerequisite !== undefined) cancelled.prerequisite = event.prerequisite;
        settle(event.id, cancelled);
        return;
      }
      case 'run.done':
        status = event.status;
        completed = event.time;
        if (event.error !== undefined) error = event.error;
        return;
      default:
        return;
    }
  };

  return {
    apply,
    results: () => Object.fromEntries(tasks),
    runStatus: () => status,
    runError: () => error,
    startedAt: () => started,
    completedAt: () => completed,
    listing: () =>
      Array.from(tasks.values(), (task) => `${task.id}: ${task.description} [${task.status}]`).join(
        '\n',
      ),
  };
}

type Kept = { id: string; description: string; startedAt?: number; attempts?: number };

function timing(prior: TaskResult): Kept {
  const kept: Kept = { id: prior.id, description: prior.description };
  if (prior.startedAt !== undefined) kept.startedAt = prior.startedAt;
  if (prior.attempts !== undefined) kept.attempts = prior.attempts;
  return kept;
}
