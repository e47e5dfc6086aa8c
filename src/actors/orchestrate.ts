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

/** The run's budget of starts per turn, and the scopes waiting for the next turn. */
export interface TurnBudget extends StartBudget {
  /** A reset is scheduled for the next turn. */
  resetting: boolean;
  /** Wakes a scope that held ready tasks back. */
  waiting: Set<() => void>;
}

/** One per run: every scope of the run draws its starts from it. */
export function createTurnBudget(): TurnBudget {
  return { startedThisTurn: 0, resetting: false, waiting: new Set() };
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
    for (const command of s.commands) {
      if (command.kind === 'start') {
        spawn(command, true);
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
    if (s.more) {
      s.more = false;
      budget.waiting.add(wake);
    }
    if (budget.startedThisTurn > 0 && !budget.resetting) {
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

/** A new turn of the event loop: the budget is full again, and the scopes held back go on. */
function nextTurn(budget: TurnBudget): void {
  budget.startedThisTurn = 0;
  budget.resetting = false;
  const waiting = [...budget.waiting];
  budget.waiting.clear();
  for (const wake of waiting) wake();
}
