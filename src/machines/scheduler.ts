/**
 * The orchestrator's scheduling rules as plain functions over one mutable `Scheduler` object:
 * readiness by counting unfinished prerequisites, a FIFO ready queue under the limit, cascading
 * cancellation, fail-fast, for-each instances and the stuck-run check. No I/O: decisions to start
 * or cancel a task become `Command`s for the executor.
 */
import type { CancelReason, TaskchartEvent, TaskInfo } from '../types.js';
import { listTasks, type CompiledScope, type GraphNode } from './graph.js';
import type { TaskOutcome, TaskRetryingMessage } from './task.js';
import {
  CANCELLED,
  DONE,
  ENDING,
  FAILED,
  OPEN,
  READY,
  RUNNING,
  SCHEDULED,
  type Scheduler,
} from './scheduler-state.js';

export { createScheduler, type Command, type Scheduler } from './scheduler-state.js';

export function begin(s: Scheduler): void {
  const { input, nodes } = s;
  if (input.announce) {
    const tasks = listTasks(input.scope);
    input.report({ type: 'run.started', time: input.now(), name: input.scope.name, tasks });
  }
  if (s.cancelledEarly !== undefined) {
    if (s.cancelledEarly === 'interrupted') s.interrupted = true;
    stopEverything(s, s.cancelledEarly);
    return;
  }
  for (let index = 0; index < nodes.length; index++) {
    if (s.waiting[index] === 0) becomeReady(s, index);
  }
  queueStarts(s);
}

function becomeReady(s: Scheduler, index: number): void {
  if (s.nodes[index]!.kind === 'forEach') {
    settleForEach(s, index);
    return;
  }
  if (s.state[index] !== SCHEDULED) return;
  s.state[index] = READY;
  s.ready += 1;
  s.queue.push(index);
}

/**
 * Queues `start` commands for ready tasks, in queue order, up to the limit and as far as the
 * run's budget of starts for this turn goes; the rest wait for `run.continue`.
 */
export function queueStarts(s: Scheduler): void {
  while (s.running < s.limit && s.ready > 0 && s.stopping === undefined) {
    const index = s.queue[s.head]!;
    if (s.state[index] !== READY) {
      s.head++;
      continue;
    }
    if (!s.budget.take()) {
      s.more = true;
      break;
    }
    s.head++;
    startReady(s, index);
  }
  if (s.head > 1024 && s.head * 2 > s.queue.length) {
    s.queue = s.queue.slice(s.head);
    s.head = 0;
  }
}

/** Starts one ready task: it counts against the limit and its machine is to be created. */
function startReady(s: Scheduler, index: number): void {
  s.ready -= 1;
  s.state[index] = RUNNING;
  s.running += 1;
  const node = s.nodes[index]!;
  if (node.kind === 'instance') startForEach(s, node.producer);
  s.input.report({ type: 'task.started', time: s.input.now(), id: node.id, status: 'running' });
  if (node.feeds) openForEachs(s, node);
  s.commands.push({ kind: 'start', index, node });
}

/** A producer started: its for-each tasks take items from now on. */
function openForEachs(s: Scheduler, producer: GraphNode): void {
  for (const index of producer.feeds ?? []) {
    if (s.state[index] === SCHEDULED) s.state[index] = OPEN;
  }
}

/** A for-each task starts with its first instance. */
function startForEach(s: Scheduler, index: number): void {
  if (s.state[index] !== OPEN) return;
  s.state[index] = RUNNING;
  const node = s.nodes[index]!;
  s.input.report({ type: 'task.started', time: s.input.now(), id: node.id, status: 'running' });
}

export function settle(s: Scheduler, outcome: TaskOutcome): void {
  const { index } = outcome;
  const node = s.nodes[index]!;
  s.released.push(index);
  if (s.state[index]! >= DONE) {
    // The machine of a task cancelled before it started: already final and reported.
    s.echoes -= 1;
    return;
  }
  if (s.state[index] === ENDING) s.ending -= 1;
  if (outcome.startedAt !== undefined) s.running -= 1;
  const time = outcome.completedAt ?? s.input.now();
  const tried = outcome.attempts > 1 ? { attempts: outcome.attempts } : {};
  if (outcome.status === 'done') {
    markFinal(s, index, DONE);
    s.input.report({ type: 'task.done', time, id: node.id, status: 'done', ...tried });
  } else if (outcome.status === 'failed') {
    markFinal(s, index, FAILED);
    s.failed.push(node.id);
    const error = outcome.error ?? { message: 'failed' };
    s.input.report({ type: 'task.failed', time, id: node.id, status: 'failed', error, ...tried });
  } else {
    markFinal(s, index, CANCELLED);
    const reason = outcome.reason ?? 'interrupted';
    reportCancelled(s, node, time, reason, outcome.prerequisite, outcome.attempts);
  }
  afterFinal(s, index);
}

function reportCancelled(
  s: Scheduler,
  node: GraphNode,
  time: number,
  reason: CancelReason,
  prerequisite: string | undefined,
  attempts = 1,
): void {
  const event: TaskchartEvent = {
    type: 'task.cancelled',
    time,
    id: node.id,
    status: 'cancelled',
    reason,
  };
  if (prerequisite !== undefined) event.prerequisite = prerequisite;
  if (attempts > 1) event.attempts = attempts;
  s.input.report(event);
}

function markFinal(s: Scheduler, index: number, state: number): void {
  s.state[index] = state;
  s.settled += 1;
}

/** Follow-ups once a task is final: release dependents or cancel them, close for-each tasks. */
function afterFinal(s: Scheduler, index: number): void {
  const node = s.nodes[index]!;
  const state = s.state[index]!;
  if (node.kind === 'instance') instanceFinished(s, index, state);
  if (node.feeds) for (const forEach of node.feeds) producerFinished(s, forEach, index);
  if (state === DONE) {
    const release = (next: number): void => {
      s.waiting[next]! -= 1;
      if (s.waiting[next] === 0) becomeReady(s, next);
    };
    node.dependents.forEach(release);
    s.waitingInstances.get(index)?.forEach(release);
    return;
  }
  if (state === FAILED && s.input.failFast && s.stopping === undefined) {
    stopEverything(s, 'fail-fast');
    return;
  }
  cancelDependents(s, index);
}

/** Cancels, without running them, every task downstream of a failed or cancelled one. */
function cancelDependents(s: Scheduler, root: number): void {
  const stack = [root];
  while (stack.length > 0) {
    const index = stack.pop()!;
    const prerequisite = s.nodes[index]!.id;
    const visit = (next: number): void => {
      if (s.state[next]! >= ENDING) return;
      cancel(s, next, 'prerequisite', prerequisite);
      stack.push(next);
    };
    s.nodes[index]!.dependents.forEach(visit);
    s.waitingInstances.get(index)?.forEach(visit);
  }
}

/**
 * Cancels one task. A running task's machine gets `cancel`, which aborts its runner; the task is
 * final when the machine reports back. A task that never started is final at once, in cascade
 * order, and still gets a machine that goes from `scheduled` to `cancelled` (its report back is
 * an echo). A group that never started takes its tasks with it. A for-each task has no machine of
 * its own: it is the join of its instances, and its instances not yet started go with it.
 */
function cancel(
  s: Scheduler,
  index: number,
  reason: CancelReason,
  prerequisite: string | undefined,
): void {
  const node = s.nodes[index]!;
  const state = s.state[index]!;
  if (state === RUNNING && node.kind !== 'forEach') {
    s.state[index] = ENDING;
    s.ending += 1;
    s.commands.push({ kind: 'cancel', index, node, reason, prerequisite });
    return;
  }
  if (state === READY) s.ready -= 1;
  // A group's tasks end before the group does.
  if (node.scope) cancelUnstartedGroup(s, node.scope, reason === 'interrupted' ? reason : 'parent');
  markFinal(s, index, CANCELLED);
  reportCancelled(s, node, s.input.now(), reason, prerequisite);
  if (node.kind === 'forEach') {
    for (const instance of s.instances.get(index) ?? []) {
      const instanceState = s.state[instance]!;
      if (instanceState === SCHEDULED || instanceState === READY)
        cancel(s, instance, reason, prerequisite);
    }
    return;
  }
  s.echoes += 1;
  s.commands.push({ kind: 'cancel', index, node, reason, prerequisite });
  if (node.kind === 'instance') {
    s.openInstances.set(node.producer, (s.openInstances.get(node.producer) ?? 1) - 1);
    settleForEach(s, node.producer);
  }
}

/** Reports every task of a group that never started as cancelled, each group after its tasks. */
function cancelUnstartedGroup(s: Scheduler, scope: CompiledScope, reason: CancelReason): void {
  const time = s.input.now();
  for (const node of scope.nodes) {
    // Recursion is as deep as groups are nested in the file, never as long as a chain.
    if (node.scope) cancelUnstartedGroup(s, node.scope, reason);
    reportCancelled(s, node, time, reason, undefined);
  }
}

export function stopEverything(s: Scheduler, reason: CancelReason): void {
  if (s.stopping !== undefined) return;
  s.stopping = reason;
  for (let index = 0; index < s.nodes.length; index++) {
    if (s.state[index]! >= ENDING) continue;
    cancel(s, index, reason, undefined);
  }
}

/** A producer announced an item: each of its for-each tasks gets an instance for it. */
export function produce(s: Scheduler, producerIndex: number, item: string): void {
  if (s.state[producerIndex] !== RUNNING) return;
  const producer = s.nodes[producerIndex]!;
  s.input.report({
    type: 'task.file',
    time: s.input.now(),
    id: producer.id,
    status: 'running',
    path: item,
  });
  if (s.stopping !== undefined) return;
  for (const forEach of producer.feeds ?? []) {
    const state = s.state[forEach];
    if (state === OPEN || state === RUNNING) addInstance(s, forEach, item);
  }
}

function addInstance(s: Scheduler, forEach: number, item: string): void {
  const owner = s.nodes[forEach]!;
  const id = `${owner.id}[${item}]`;
  if (s.instanceIds.has(id)) return;
  s.instanceIds.add(id);
  const needs = owner.needs.filter((need) => need !== owner.producer);
  const index = s.nodes.length;
  const node: GraphNode = {
    id,
    // An explicit description is kept for each instance; otherwise the id says it all.
    description: owner.description === owner.id ? id : `${owner.description}: ${item}`,
    kind: 'instance',
    needs,
    dependents: [],
    run: owner.run,
    producer: forEach,
    feeds: undefined,
    scope: undefined,
    item,
    timeout: owner.timeout,
    retry: owner.retry,
    source: owner.source,
  };
  s.nodes.push(node);
  s.state.push(SCHEDULED);
  s.waiting.push(0);
  const siblings = s.instances.get(forEach);
  if (siblings) siblings.push(index);
  else s.instances.set(forEach, [index]);
  s.openInstances.set(forEach, (s.openInstances.get(forEach) ?? 0) + 1);
  const info: TaskInfo = {
    id,
    description: node.description,
    kind: 'instance',
    needs: needs.map((need) => s.nodes[need]!.id),
    forEach: owner.id,
    item,
  };
  if (s.input.scope.prefix) info.parent = s.input.scope.prefix.slice(0, -1);
  s.input.report({ type: 'task.added', time: s.input.now(), id, status: 'scheduled', task: info });

  let waiting = 0;
  for (const need of needs) {
    const state = s.state[need]!;
    if (state === DONE) continue;
    if (state === FAILED || state === CANCELLED) {
      cancel(s, index, 'prerequisite', s.nodes[need]!.id);
      return;
    }
    waiting += 1;
    const waitingOn = s.waitingInstances.get(need);
    if (waitingOn) waitingOn.push(index);
    else s.waitingInstances.set(need, [index]);
  }
  s.waiting[index] = waiting;
  if (waiting === 0) becomeReady(s, index);
}

function instanceFinished(s: Scheduler, index: number, state: number): void {
  const forEach = s.nodes[index]!.producer;
  s.openInstances.set(forEach, (s.openInstances.get(forEach) ?? 1) - 1);
  if (state === FAILED) s.instancesFailed.add(forEach);
  settleForEach(s, forEach);
}

function producerFinished(s: Scheduler, forEach: number, producer: number): void {
  if (s.state[producer] === DONE || s.state[forEach]! >= ENDING) return;
  // Instances announced before the failure start if the limit lets them, as they would have
  // without the budget of starts per turn; only the ones still beyond the limit are cancelled.
  if (!s.input.failFast) {
    for (const instance of s.instances.get(forEach) ?? []) {
      if (s.running >= s.limit) break;
      if (s.state[instance] === READY) startReady(s, instance);
    }
  }
  cancel(s, forEach, 'prerequisite', s.nodes[producer]!.id);
  cancelDependents(s, forEach);
}

/**
 * Ends a for-each task once its producer and prerequisites are done and every instance is
 * final.
 */
function settleForEach(s: Scheduler, index: number): void {
  if (s.state[index]! >= ENDING) return;
  if (s.waiting[index]! > 0 || (s.openInstances.get(index) ?? 0) > 0) return;
  const node = s.nodes[index]!;
  const time = s.input.now();
  if (s.state[index] !== RUNNING) {
    s.input.report({ type: 'task.started', time, id: node.id, status: 'running' });
  }
  if (s.instancesFailed.has(index)) {
    markFinal(s, index, FAILED);
    s.failed.push(node.id);
    const error = { message: 'one or more of its instances failed' };
    s.input.report({ type: 'task.failed', time, id: node.id, status: 'failed', error });
  } else {
    markFinal(s, index, DONE);
    s.input.report({ type: 'task.done', time, id: node.id, status: 'done' });
  }
  afterFinal(s, index);
}

/** Every task is final and every machine has reported back. */
export function isFinished(s: Scheduler): boolean {
  return s.settled === s.nodes.length && s.echoes === 0;
}

/** A failed attempt will be tried again. */
export function reportRetry(s: Scheduler, message: TaskRetryingMessage): void {
  const id = s.nodes[message.index]!.id;
  const { attempt, error, delayMs } = message;
  const time = s.input.now();
  s.input.report({ type: 'task.retrying', time, id, status: 'running', attempt, error, delayMs });
}

export function isStuck(s: Scheduler): boolean {
  if (s.settled === s.nodes.length) return false;
  return (
    s.running === 0 &&
    s.ending === 0 &&
    s.echoes === 0 &&
    s.commands.length === 0 &&
    (s.ready === 0 || s.stopping !== undefined)
  );
}

export function detectStuck(s: Scheduler): void {
  const stuck: string[] = [];
  for (let index = 0; index < s.nodes.length; index++) {
    if (s.state[index]! < DONE) stuck.push(s.nodes[index]!.id);
  }
  const shown =
    stuck.slice(0, 10).join(', ') + (stuck.length > 10 ? `, and ${stuck.length - 10} more` : '');
  s.error = `the run cannot go on: nothing is running and ${stuck.length} task(s) can never start: ${shown}`;
}
