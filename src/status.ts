import type {
  CancelReason,
  RunStatus,
  TaskCancelledEvent,
  TaskchartEvent,
  TaskDoneEvent,
  TaskFailedEvent,
  TaskError,
  TaskResult,
  TaskStatus,
} from './types.js';

/** Every task's state, rebuilt from the event stream alone. */
export interface StatusTable {
  apply(event: TaskchartEvent): void;
  /** A task's status alone, without building its result. */
  statusOf(id: string): TaskStatus | undefined;
  /** One task's state, or `undefined` for an id never announced. */
  get(id: string): TaskResult | undefined;
  /** Every task by id, in the order it was announced. */
  results(): Record<string, TaskResult>;
  runStatus(): RunStatus | undefined;
  runError(): string | undefined;
  startedAt(): number | undefined;
  completedAt(): number | undefined;
  /** One line per task: `id: description [status]`. */
  listing(): string;
}

/** What the table keeps of a task; updated in place, so an event allocates nothing. */
interface Row {
  id: string;
  description: string;
  status: TaskStatus;
  startedAt: number | undefined;
  completedAt: number | undefined;
  attempts: number | undefined;
  error: TaskError | undefined;
  reason: CancelReason | undefined;
  prerequisite: string | undefined;
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
  const rows = new Map<string, Row>();
  let status: RunStatus | undefined;
  let error: string | undefined;
  let started: number | undefined;
  let completed: number | undefined;

  const add = (id: string, description: string): Row => {
    const row: Row = {
      id,
      description,
      status: 'scheduled',
      startedAt: undefined,
      completedAt: undefined,
      attempts: undefined,
      error: undefined,
      reason: undefined,
      prerequisite: undefined,
    };
    rows.set(id, row);
    return row;
  };
  const row = (id: string): Row => rows.get(id) ?? add(id, id);

  /** The part every final event shares: status, completion time, attempts. */
  const finish = (event: TaskDoneEvent | TaskFailedEvent | TaskCancelledEvent): Row => {
    const task = row(event.id);
    task.status = event.status;
    task.completedAt = event.time;
    if (event.attempts !== undefined) task.attempts = event.attempts;
    return task;
  };

  const apply = (event: TaskchartEvent): void => {
    switch (event.type) {
      case 'run.started':
        started = event.time;
        for (const info of event.tasks) add(info.id, info.description);
        return;
      case 'task.added':
        add(event.id, event.task.description);
        return;
      case 'task.started': {
        const task = row(event.id);
        task.status = 'running';
        task.startedAt = event.time;
        return;
      }
      case 'task.retrying':
        row(event.id).attempts = event.attempt;
        return;
      case 'task.done':
        finish(event);
        return;
      case 'task.failed':
        finish(event).error = event.error;
        return;
      case 'task.cancelled': {
        const task = finish(event);
        task.reason = event.reason;
        task.prerequisite = event.prerequisite;
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
    statusOf: (id) => rows.get(id)?.status,
    get: (id) => {
      const task = rows.get(id);
      return task && toResult(task);
    },
    results: () => {
      // fromEntries defines own properties, so an id such as `__proto__` stays a plain key.
      return Object.fromEntries(Array.from(rows, ([id, task]) => [id, toResult(task)]));
    },
    runStatus: () => status,
    runError: () => error,
    startedAt: () => started,
    completedAt: () => completed,
    listing: () =>
      Array.from(rows.values(), (task) => `${task.id}: ${task.description} [${task.status}]`).join(
        '\n',
      ),
  };
}

/** A row as a result: `error` only when failed, `reason` only when cancelled. */
function toResult(task: Row): TaskResult {
  const { id, description, status } = task;
  let result: TaskResult;
  if (status === 'failed') {
    result = { id, description, status, error: task.error ?? { message: 'failed' } };
  } else if (status === 'cancelled') {
    result = { id, description, status, reason: task.reason ?? 'interrupted' };
    if (task.prerequisite !== undefined) result.prerequisite = task.prerequisite;
  } else {
    result = { id, description, status };
  }
  if (task.startedAt !== undefined) result.startedAt = task.startedAt;
  if (task.completedAt !== undefined) result.completedAt = task.completedAt;
  if (task.attempts !== undefined) result.attempts = task.attempts;
  return result;
}
