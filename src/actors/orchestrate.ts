import { createActor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import {
  orchestratorMachine,
  type Command,
  type OrchestratorActor,
  type OrchestratorInput,
  type Scheduler,
} from '../machines/orchestrator.js';
import type { TaskMachine } from '../machines/task.js';
import type { Clock } from '../types.js';

export interface OrchestratorOptions {
  input: OrchestratorInput;
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
  const actor = createActor(orchestratorMachine, {
    input: options.input,
    ...(options.parent ? { parent: options.parent } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock as never } : {}),
  });
  const live = new Map<number, { ref: AnyActorRef; slot: number }>();
  const freeSlots: number[] = [];
  let nextSlot = 0;
  /** A `run.continue` is on its way. */
  let continuing = false;

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
    if (s.more && !continuing) {
      continuing = true;
      // Let the tasks just started run (quick tasks finish) before starting more.
      setImmediate(() => {
        continuing = false;
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'run.continue' });
      });
    }
    s.more = false;
  };

  actor.subscribe({
    next: (snapshot) => execute(snapshot.context.s),
    // The run reads an orchestrator error from its result; nothing is left to execute then.
    error: () => {},
  });
  return actor;
}
