import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { createActor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import {
  orchestratorMachine,
  type Command,
  type OrchestratorActor,
  type OrchestratorInput,
  type Scheduler,
} from '../machines/orchestrator.js';
import type { StartBudget } from '../machines/scheduler-state.js';
import type { TaskMachine } from '../machines/task.js';
import type { Clock } from '../types.js';

/**
 * At most this many tasks start in one turn of the event loop, counted over every scope of a
 * run, and only until `TURN_MS` have passed since the first; the rest start on the next turn.
 * Counting per step was not enough: every task that ends starts a step of its own, and a wide
 * graph of quick tasks then had 25,000 runners in flight at once. Counting tasks alone was not
 * enough either: 512 shell commands take a second to spawn, during which Ctrl-C waits and pipes
 * are not read. Starts are decided a chunk at a time, as many as the time left in the turn has
 * room for at what a start has cost lately, so the clock is read between chunks of real work.
 */
export const STARTS_PER_TURN = 512;
export const TURN_MS = 10;
/**
 * The largest chunk. When its starts turn out slower than the ones before (shell commands after
 * quick functions), the loop is held up for this many of them at most, not for 512.
 */
export const STARTS_PER_CHUNK = 32;

/** The run's budget of starts per turn, and the scopes waiting for the next turn. */
export interface TurnBudget extends StartBudget {
  /** Starts taken in this turn, and when the first was taken (`performance.now()`). */
  started: number;
  since: number;
  /** Starts taken in the chunk being decided (one step of one scope), and its size. */
  inChunk: number;
  chunk: number;
  /** What starting a task has cost lately, in ms: creating its actors and its synchronous part. */
  msPerStart: number;
  /** A refill is scheduled for the next turn. */
  resetting: boolean;
  /** Wakes of the scopes that held ready tasks back, in the order they are to go on. */
  waiting: Set<() => void>;
}

/** One per run: every scope of the run draws its starts from it. */
export function createTurnBudget(): TurnBudget {
  const budget: TurnBudget = {
    started: 0,
    since: 0,
    inChunk: 0,
    chunk: 0,
    // A fast spawn, at first: a run of slow starts begins with a chunk of 10.
    msPerStart: 1,
    resetting: false,
    waiting: new Set(),
    take() {
      if (budget.inChunk === 0) {
        if (spent(budget)) return false;
        budget.chunk = chunkSize(budget);
      }
      if (budget.inChunk >= budget.chunk) return false;
      if (budget.started === 0) budget.since = performance.now();
      budget.started += 1;
      budget.inChunk += 1;
      return true;
    },
  };
  return budget;
}

export interface OrchestratorOptions {
  input: Omit<OrchestratorInput, 'budget'>;
  /** Shared by every scope of a run; a standalone orchestrator gets its own. */
  budget?: TurnBudget;
  /** The task machine with the run's `runner` provided. */
  taskLogic: TaskMachine;
  /** Makes the orchestrator part of this actor's system (nested groups). */
  parent?: AnyActorRef;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Timers of the actor system (retry delays); root orchestrators only. */
  clock?: Clock;
}

/**
 * Creates an orchestrator actor and the executor of its decisions. After every step of the
 * orchestrator, the executor creates the task actors it asked to start or cancel, in its actor
 * system with the orchestrator as parent and a reused slot id, and frees the slots of tasks that
 * reported back. Call `start()` and then send `run.begin`.
 */
export function createOrchestrator(options: OrchestratorOptions): OrchestratorActor {
  const budget = options.budget ?? createTurnBudget();
  const actor = createActor(orchestratorMachine, {
    input: { ...options.input, budget },
    ...(options.parent ? { parent: options.parent } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock as never } : {}),
  });
  const live = new Map<number, { ref: AnyActorRef; slot: number }>();
  const freeSlots: number[] = [];
  let nextSlot = 0;
  const wake = (): void => {
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'run.continue' });
  };

  const spawn = (command: Command, startNow: boolean): AnyActorRef => {
    const slot = freeSlots.pop() ?? nextSlot++;
    const { index, node } = command;
    const ref = createActor(options.taskLogic, {
      parent: actor,
      id: `slot-${slot}`,
      input: {
        index,
        id: node.id,
        description: node.description,
        node,
        owner: actor,
        now: options.input.now,
        startNow,
        random: Math.random,
      },
    });
    // Only a task that may retry says so; the orchestrator reports each failed attempt.
    if (node.retry) ref.on('task.retrying', (message) => actor.send(message));
    live.set(index, { ref, slot });
    ref.start();
    return ref;
  };

  const execute = (s: Scheduler): void => {
    for (const index of s.released) {
      const task = live.get(index);
      if (!task) continue;
      live.delete(index);
      freeSlots.push(task.slot);
    }
    s.released.length = 0;
    // A task actor that ends here reports back through the orchestrator's mailbox, after this.
    let starts = 0;
    let startMs = 0;
    for (const command of s.commands) {
      if (command.kind === 'start') {
        const began = performance.now();
        spawn(command, true);
        startMs += performance.now() - began;
        starts++;
        continue;
      }
      const event = {
        type: 'cancel' as const,
        reason: command.reason,
        ...(command.prerequisite === undefined ? {} : { prerequisite: command.prerequisite }),
      };
      const ref = live.get(command.index)?.ref ?? spawn(command, false);
      ref.send(event);
    }
    s.commands.length = 0;
    if (starts > 0) budget.msPerStart = 0.7 * budget.msPerStart + 0.3 * (startMs / starts);
    budget.inChunk = 0;
    if (s.more) {
      s.more = false;
      // The next chunk in this turn while it lasts, else on the next turn.
      if (spent(budget)) budget.waiting.add(wake);
      else wake();
    }
    if (budget.started > 0 && !budget.resetting) {
      budget.resetting = true;
      // The tasks just started run (quick ones finish) before the next turn starts more.
      setImmediate(() => nextTurn(budget));
    }
  };

  actor.subscribe({
    next: (snapshot) => execute(snapshot.context.s),
    // The run reads an orchestrator error from its result; nothing is left to execute then.
    error: () => {},
  });
  return actor;
}

/** How many starts the time left in this turn has room for. */
function chunkSize(budget: TurnBudget): number {
  const used = budget.started === 0 ? 0 : performance.now() - budget.since;
  const room = Math.floor((TURN_MS - used) / budget.msPerStart);
  return Math.max(1, Math.min(STARTS_PER_CHUNK, STARTS_PER_TURN - budget.started, room));
}

/** This turn's starts are used up, by count or by time. */
function spent(budget: TurnBudget): boolean {
  if (budget.started === 0) return false;
  return budget.started >= STARTS_PER_TURN || performance.now() - budget.since > TURN_MS;
}

/**
 * A new turn of the event loop: the budget is full again, and the scopes held back go on in the
 * order they were held back, as far as it lasts. A scope held back again queues behind the
 * others, so sibling groups take turns.
 */
function nextTurn(budget: TurnBudget): void {
  budget.started = 0;
  budget.resetting = false;
  for (const wake of [...budget.waiting]) {
    if (spent(budget)) return;
    budget.waiting.delete(wake);
    wake();
  }
}
