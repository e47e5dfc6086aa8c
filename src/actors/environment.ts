import type { TaskMachine } from '../machines/task.js';
import type { TurnBudget } from './orchestrate.js';
import type { Clock, TaskchartEvent } from '../types.js';

/** What every scope of one run shares: time, the event stream and the work still in flight. */
export interface RunEnvironment {
  now: () => number;
  /** Timers for timeouts and retries. */
  clock: Clock;
  /** How long an aborted runner may take to settle before it is given up on, in ms. */
  graceMs: number;
  report: (event: TaskchartEvent) => void;
  /** Runner promises not yet settled; the run waits for them (within the grace period). */
  inflight: Set<Promise<unknown>>;
  /** Set when the user interrupts the run; nested scopes then cancel with `interrupted`. */
  interrupted: boolean;
  /** The task machine with this run's runner provided. */
  taskLogic: TaskMachine;
  /** Starts per turn of the event loop, shared by every scope of the run. */
  budget: TurnBudget;
}
