/**
 * The orchestrator's data: one mutable object per scope, with a task's state as a small integer
 * and the commands the executor is to carry out. The rules that change it are in `scheduler.ts`.
 */
import type { CancelReason } from '../types.js';
import type { GraphNode } from './graph.js';
import type { OrchestratorInput } from './orchestrator.js';

/** Task states as the scheduler tracks them; small integers keep 100,000 tasks cheap. */
export const SCHEDULED = 0;
export const READY = 1;
/** A for-each task whose producer runs: it takes items but has not started yet. */
export const OPEN = 2;
export const RUNNING = 3;
/** A cancel was decided; the task machine has not reported back yet. */
export const ENDING = 4;
export const DONE = 5;
export const FAILED = 6;
export const CANCELLED = 7;

/**
 * How many tasks may start in the current turn of the event loop, asked by every scope of a run.
 * The executor decides (see `src/actors/orchestrate.ts`), refills it at the next turn and wakes
 * the scopes that were held back.
 */
export interface StartBudget {
  /** Takes one start from this turn's budget; `false` when it is spent. */
  take(): boolean;
}

/** The budget of an orchestrator given none: every start is allowed at once. */
const UNBOUNDED: StartBudget = { take: () => true };

/** A decision for the executor: start a task, or cancel one (it may never have started). */
export type Command =
  | { kind: 'start'; index: number; node: GraphNode }
  | {
      kind: 'cancel';
      index: number;
      node: GraphNode;
      reason: CancelReason;
      prerequisite: string | undefined;
    };

/**
 * The scheduler's state, held by reference in the machine's context so that an event costs O(1)
 * plus the edges it releases. Actions only change this data and queue commands; the executor
 * (`src/actors/orchestrate.ts`) carries the commands out after each step.
 */
export interface Scheduler {
  input: OrchestratorInput;
  nodes: GraphNode[];
  state: number[];
  waiting: number[];
  queue: number[];
  head: number;
  /** Tasks READY in the queue. */
  ready: number;
  /** Tasks started and not yet reported final (limit accounting). */
  running: number;
  /** Cancels decided and not yet reported final. */
  ending: number;
  /** Machines of tasks cancelled before they started, not yet reported back. */
  echoes: number;
  limit: number;
  settled: number;
  failed: string[];
  commands: Command[];
  /** Tasks whose machine reported final since the executor last looked. */
  released: number[];
  /** Starts in this turn, shared by every scope of the run. */
  budget: StartBudget;
  /**
   * Ready tasks were held back by the budget of starts: `run.continue` follows, at once for the
   * next chunk or on the next turn when this one is spent.
   */
  more: boolean;
  /** Set once fail-fast or a cancel stops new work. */
  stopping: CancelReason | undefined;
  interrupted: boolean;
  /** A cancel that arrived before `run.begin`. */
  cancelledEarly: CancelReason | undefined;
  instanceIds: Set<string>;
  /** forEach index → its instances' indices. */
  instances: Map<number, number[]>;
  /**
   * Prerequisite index → instances waiting for it. Kept here, not on the compiled nodes, which
   * every run of the workflow shares.
   */
  waitingInstances: Map<number, number[]>;
  /** forEach index → instances not yet final. */
  openInstances: Map<number, number>;
  instancesFailed: Set<number>;
  error: string | undefined;
}

export function createScheduler(input: OrchestratorInput): Scheduler {
  const nodes = input.scope.nodes.slice();
  const waiting = new Array<number>(nodes.length);
  for (let index = 0; index < nodes.length; index++) waiting[index] = nodes[index]!.needs.length;
  return {
    input,
    nodes,
    state: new Array<number>(nodes.length).fill(SCHEDULED),
    waiting,
    queue: [],
    head: 0,
    ready: 0,
    running: 0,
    ending: 0,
    echoes: 0,
    limit: input.maxParallel > 0 ? input.maxParallel : Infinity,
    settled: 0,
    failed: [],
    commands: [],
    released: [],
    budget: input.budget ?? UNBOUNDED,
    more: false,
    stopping: undefined,
    interrupted: false,
    cancelledEarly: undefined,
    instanceIds: new Set(),
    instances: new Map(),
    waitingInstances: new Map(),
    openInstances: new Map(),
    instancesFailed: new Set(),
    error: undefined,
  };
}
