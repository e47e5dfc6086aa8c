/** Public types shared by the machines, the actors, the I/O layer and the CLI. */

/** Where a definition came from, for error messages: `file:line:column`. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export type TaskStatus = 'scheduled' | 'running' | 'done' | 'failed' | 'cancelled';
export type FinalTaskStatus = 'done' | 'failed' | 'cancelled';
export type RunStatus = 'done' | 'failed' | 'cancelled';

/**
 * Why a task was cancelled: a prerequisite failed or was cancelled (`prerequisite` names it),
 * the run failed fast, the user interrupted the run, or the enclosing group was cancelled.
 */
export type CancelReason = 'prerequisite' | 'fail-fast' | 'interrupted' | 'parent';

/** What is kept of a failed task's error. */
export interface TaskError {
  message: string;
  /** Exit code of a process that exited non-zero. */
  exitCode?: number;
  /** Name of the signal that killed a process, e.g. `SIGKILL`. */
  signal?: string;
  /** Set when the task ran past its `timeout`. */
  reason?: 'timeout';
  /** With reason `timeout`: how long the attempt ran, in ms. */
  elapsedMs?: number;
}

export type LogLevel = 'info' | 'detail' | 'debug';

export interface TaskLogger {
  info(message: string): void;
  detail(message: string): void;
  debug(message: string): void;
}

/** What a runner receives. */
export interface TaskContext {
  /** The task's id; qualified (`group/child`, `forEach[item]`) inside groups and for-each. */
  id: string;
  /** Aborted when the task is cancelled; honour it and clean up. */
  signal: AbortSignal;
  /** The announced item this for-each instance was created for. */
  item?: string;
  log: TaskLogger;
  /** Report progress: `fraction` from 0 to 1. */
  progress(fraction: number, message?: string): void;
  /**
   * Announce an item (a file, chiefly); for-each tasks declared on this task get one instance
   * each.
   */
  produce(item: string): void;
  /** Record one line the task's process printed (no trailing newline); level `info`. */
  output(line: string, stream: 'stdout' | 'stderr'): void;
}

/** A task's work. It may return a value or a promise; throwing or rejecting marks the task failed. */
export type TaskRunner = (context: TaskContext) => unknown;

/** One task: a leaf with `run`, a group with `tasks`, or a for-each with `forEach` and `run`. */
export interface TaskDefinition {
  id: string;
  description?: string;
  /** Ids of sibling tasks that must be `done` before this one starts. */
  needs?: readonly string[];
  /** The work of a leaf task or of each for-each instance. */
  run?: TaskRunner;
  /** Id of a sibling task whose produced items each create one instance of this task. */
  forEach?: string;
  /** Makes this task a group of tasks with its own limits. */
  tasks?: readonly TaskDefinition[];
  /** Group only: how many children run at once; unset or 0 = unlimited. */
  maxParallel?: number;
  /** Group only: the first failing child cancels the rest of the group. */
  failFast?: boolean;
  /** An attempt that runs longer than this many ms is aborted and fails with reason `timeout`. */
  timeout?: number;
  /** How many more attempts a failed task gets. Default 0. */
  retries?: number;
  /** Wait before the first retry, in ms. Default 1000. */
  retryDelay?: number;
  /** Each further retry waits this many times longer. Default 2. */
  retryBackoff?: number;
  /** The longest wait between attempts, in ms. Default 30000. */
  retryMaxDelay?: number;
  /** Up to this fraction of each wait is random (0 to 1), so retries spread out. Default 0. */
  retryJitter?: number;
  /** Where the task was defined, for error messages. */
  source?: SourceLocation;
}

export interface WorkflowDefinition {
  name?: string;
  /** How many tasks run at once; unset or 0 = unlimited. */
  maxParallel?: number;
  /** The first failure cancels every task not yet finished. Default `false`. */
  failFast?: boolean;
  tasks: readonly TaskDefinition[];
  /** The file the workflow came from, when it came from one. */
  file?: string;
}

/** A task as announced at the start of a run (or when a for-each instance is created). */
export interface TaskInfo {
  id: string;
  description: string;
  kind: 'task' | 'group' | 'forEach' | 'instance';
  needs: string[];
  /** The enclosing group's id. */
  parent?: string;
  /** For instances: the for-each task and the item. */
  forEach?: string;
  item?: string;
}

interface EventBase {
  /** Milliseconds since the epoch, from the run's clock. */
  time: number;
}

export type RunStartedEvent = EventBase & {
  type: 'run.started';
  name?: string;
  tasks: TaskInfo[];
};
export type TaskAddedEvent = EventBase & {
  type: 'task.added';
  id: string;
  status: 'scheduled';
  task: TaskInfo;
};
export type TaskStartedEvent = EventBase & { type: 'task.started'; id: string; status: 'running' };
export type TaskProgressEvent = EventBase & {
  type: 'task.progress';
  id: string;
  status: 'running';
  fraction: number;
  message?: string;
};
export type TaskFileEvent = EventBase & {
  type: 'task.file';
  id: string;
  status: 'running';
  path: string;
};
export type TaskLogEvent = EventBase & {
  type: 'task.log';
  id: string;
  /** `running`, or the final status for a line printed while the task was being stopped. */
  status: 'running' | FinalTaskStatus;
  level: LogLevel;
  /** Set for lines a process printed. */
  stream?: 'stdout' | 'stderr';
  line: string;
};
export type TaskRetryingEvent = EventBase & {
  type: 'task.retrying';
  id: string;
  status: 'running';
  /** The attempt that failed, counting from 1. */
  attempt: number;
  error: TaskError;
  /** How long until the next attempt starts. */
  delayMs: number;
};
interface Attempts {
  /** How many attempts ran, when more than one did. */
  attempts?: number;
}

export type TaskDoneEvent = EventBase &
  Attempts & { type: 'task.done'; id: string; status: 'done' };
export type TaskFailedEvent = EventBase &
  Attempts & {
    type: 'task.failed';
    id: string;
    status: 'failed';
    error: TaskError;
  };
export type TaskCancelledEvent = EventBase &
  Attempts & {
    type: 'task.cancelled';
    id: string;
    status: 'cancelled';
    reason: CancelReason;
    /** With reason `prerequisite`: the prerequisite that failed or was cancelled. */
    prerequisite?: string;
  };
export type RunDoneEvent = EventBase & {
  type: 'run.done';
  status: RunStatus;
  /** Set when the run could not go on, e.g. tasks that could never start. */
  error?: string;
};

export type TaskchartEvent =
  | RunStartedEvent
  | TaskAddedEvent
  | TaskStartedEvent
  | TaskProgressEvent
  | TaskFileEvent
  | TaskLogEvent
  | TaskRetryingEvent
  | TaskDoneEvent
  | TaskFailedEvent
  | TaskCancelledEvent
  | RunDoneEvent;

export type TaskchartEventType = TaskchartEvent['type'];
export type TaskEvent = Exclude<TaskchartEvent, RunStartedEvent | RunDoneEvent>;

interface TaskResultBase {
  id: string;
  description: string;
  startedAt?: number;
  completedAt?: number;
  /** How many attempts ran, when more than one did. */
  attempts?: number;
}

/** A task's state; `error` only when failed, `reason` only when cancelled. */
export type TaskResult =
  | (TaskResultBase & { status: 'scheduled' | 'running' | 'done' })
  | (TaskResultBase & { status: 'failed'; error: TaskError })
  | (TaskResultBase & { status: 'cancelled'; reason: CancelReason; prerequisite?: string });

export interface RunResult {
  status: RunStatus;
  /** Every task by id, nested and for-each instances included, in the order they were announced. */
  tasks: Record<string, TaskResult>;
  /** Set when the run could not go on. */
  error?: string;
  startedAt: number;
  completedAt: number;
}

/** A source of time, injectable for tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
