import { toPromise, type AnyActorRef } from 'xstate';
import type { GraphNode } from '../machines/graph.js';
import type { RunEnvironment } from './environment.js';
import { createOrchestrator } from './orchestrate.js';

/**
 * Runs a group's tasks as a nested orchestrator in the same actor system. The group holds one
 * slot of its parent's limit; its children count only against the group's own `maxParallel`.
 * Aborting the group cancels its children (reason `parent`, or `interrupted` when the run was
 * interrupted); the group fails when any child failed.
 */
export async function runGroup(
  node: GraphNode,
  env: RunEnvironment,
  signal: AbortSignal,
  parent: AnyActorRef,
): Promise<void> {
  const scope = node.scope;
  if (!scope) throw new Error(`task "${node.id}" is not a group`);
  const actor = createOrchestrator({
    parent,
    taskLogic: env.taskLogic,
    budget: env.budget,
    input: {
      scope,
      maxParallel: scope.maxParallel,
      failFast: scope.failFast,
      now: env.now,
      report: env.report,
      cancelReason: () => (env.interrupted ? 'interrupted' : 'parent'),
      announce: false,
    },
  });
  const cancel = (): void => {
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'run.cancel' });
  };
  signal.addEventListener('abort', cancel, { once: true });
  try {
    const done = toPromise(actor);
    actor.start();
    actor.send({ type: 'run.begin' });
    if (signal.aborted) cancel();
    const output = await done;
    if (output.error) throw new Error(output.error);
    if (output.status === 'failed') {
      const count = output.failed.length;
      const names = output.failed.join(', ');
      throw new Error(`${count === 1 ? '1 task' : `${count} tasks`} of the group failed: ${names}`);
    }
    if (output.status === 'cancelled') throw signal.reason ?? new Error('the group was cancelled');
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}
