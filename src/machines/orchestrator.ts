import { createActor, setup, type ActorRefFrom, type AnyActorRef, type DoneActorEvent } from 'xstate';
import type { CancelReason, RunStatus, TaskchartEvent, TaskInfo } from '../types.js';
import type { CompiledScope, GraphNode } from './graph.js';
import type { TaskMachine, TaskOutcome } from './task.js';

/** Task states as the scheduler tracks them; small integers keep 100,000 tasks cheap. */
const SCHEDULED = 0;
const READY = 1;
const RUNNING = 2;
const DONE = 3;
const FAILED = 4;
const CANCELLED = 5;

export interface OrchestratorInput {
  scope: CompiledScope;
  /** Resolved limit; 0 = unlimited. */
  maxParallel: number;
  failFast: boolean;
  /** The task machine with its `runner` actor provided. */
  taskLogic: TaskMachine;
  now: () => number;
  /** Receives every lifecycle event, in order. */
  report: (event: TaskchartEvent) => void;
  /** The reason this scope's tasks get when the scope itself is cancelled. */
  cancelReason: () => CancelReason;
  /** Whether to announce the scope's tasks with `run.started` (only the top scope does). */
  announce: boolean;
}

export type OrchestratorEvent =
  | { type: 'run.begin' }
  | { type: 'task.produced'; index: number; item: string }
  | { type: 'run.cancel'; reason?: CancelReason };

export interface OrchestratorOutput {
  status: RunStatus;
  failed: string[];
  /** Set when the run could not go on. */
  error: string | undefined;
}

/** Mutable scheduling state, held by reference in the machine's context so events stay O(1). */
interface Scheduler {
  input: OrchestratorInput;
  nodes: GraphNode[];
  state: number[];
  waiting: number[];
  queue: number[];
  head: number;
  running: number;
  limit: number;
  settled: number;
  failed: string[];
  /** Set once fail-fast or a cancel stops new work. */
  stopping: CancelReason | undefined;
  interrupted: boolean;
  /** A cancel that arrived before `run.begin`. */
  cancelledEarly: CancelReason | undefined;
  actors: Map<number, AnyActorRef>;
  slotOf: Map<number, number>;
  freeSlots: number[];
  instanceIds: Set<string>;
  /** forEach index → instances not yet final. */
  openInstances: Map<number, number>;
  instancesFailed: Set<number>;
  error: string | undefined;
}

interface Context {
  s: Scheduler;
}

/**
 * Schedules one scope (a workflow or a group). Tasks waiting for prerequisites are data; a task
 * becomes a task-machine actor in this system when it starts (or is cancelled), under a reused
 * slot id, and reports back with `xstate.done.actor.*`. Scheduling begins on `run.begin`, sent
 * right after the actor starts. The run reaches `finished` when every task is final, and reports a
 * stuck run instead of waiting forever.
 */
export const orchestratorMachine = setup({
  types: {
    input: {} as OrchestratorInput,
    context: {} as Context,
    events: {} as OrchestratorEvent | DoneActorEvent<TaskOutcome>,
    output: {} as OrchestratorOutput,
  },
  actions: {
    begin: ({ context, self }) => begin(context.s, self),
    settle: ({ context, event, self }) => {
      if (!event.type.startsWith('xstate.done.actor.')) return;
      settle(context.s, (event as DoneActorEvent<TaskOutcome>).output, self);
      startReady(context.s, self);
    },
    produce: ({ context, event, self }) => {
      if (event.type !== 'task.produced') return;
      produce(context.s, event.index, event.item, self);
      startReady(context.s, self);
    },
    cancelAll: ({ context, event, self }) => {
      if (event.type !== 'run.cancel') return;
      const s = context.s;
      const reason = event.reason ?? s.input.cancelReason();
      if (reason === 'interrupted') s.interrupted = true;
      stopEverything(s, reason, self);
    },
    cancelEarly: ({ context, event }) => {
      if (event.type !== 'run.cancel') return;
      const reason = event.reason ?? context.s.input.cancelReason();
      context.s.cancelledEarly = reason;
    },
    detectStuck: ({ context }) => detectStuck(context.s),
  },
  guards: {
    finished: ({ context }) => context.s.settled === context.s.nodes.length,
    stuck: ({ context }) => isStuck(context.s),
  },
}).createMachine({
  id: 'orchestrator',
  context: ({ input }) => ({ s: createScheduler(input) }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'run.begin': { target: 'running', actions: 'begin' },
        'run.cancel': { actions: 'cancelEarly' },
      },
    },
    running: {
      on: {
        'xstate.done.actor.*': { actions: 'settle' },
        'task.produced': { actions: 'produce' },
        'run.cancel': { actions: 'cancelAll' },
      },
      always: [
        { guard: 'finished', target: 'finished' },
        { guard: 'stuck', target: 'finished', actions: 'detectStuck' },
      ],
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => {
    const s = context.s;
    const status: RunStatus = s.interrupted ? 'cancelled' : s.failed.length > 0 || s.error ? 'failed' : 'done';
    return { status, failed: s.failed, error: s.error };
  },
});

export type OrchestratorActor = ActorRefFrom<typeof orchestratorMachine>;

function createScheduler(input: OrchestratorInput): Scheduler {
  const nodes = input.scope.nodes.slice();
  return {
    input,
    nodes,
    state: new Array<number>(nodes.length).fill(SCHEDULED),
    waiting: nodes.map((node) => node.needs.length),
    queue: [],
    head: 0,
    running: 0,
    limit: input.maxParallel > 0 ? input.maxParallel : Infinity,
    settled: 0,
    failed: [],
    stopping: undefined,
    interrupted: false,
    cancelledEarly: undefined,
    actors: new Map(),
    slotOf: new Map(),
    freeSlots: [],
    instanceIds: new Set(),
    openInstances: new Map(),
    instancesFailed: new Set(),
    error: undefined,
  };
}

function begin(s: Scheduler, self: AnyActorRef): void {
  const { input, nodes } = s;
  if (input.announce) {
    const tasks: TaskInfo[] = [];
    listTasks(input.scope, undefined, tasks);
    input.report({ type: 'run.started', time: input.now(), name: input.scope.name, tasks });
  }
  if (s.cancelledEarly !== undefined) {
    if (s.cancelledEarly === 'interrupted') s.interrupted = true;
    stopEverything(s, s.cancelledEarly, self);
    return;
  }
  for (let index = 0; index < nodes.length; index++) {
    if (s.waiting[index] === 0) becomeReady(s, index, self);
  }
  startReady(s, self);
}

/** Every task of a scope and its groups, depth first, in declaration order. */
function listTasks(scope: CompiledScope, parent: string | undefined, into: TaskInfo[]): void {
  for (const node of scope.nodes) {
    const info: TaskInfo = {
      id: node.id,
      description: node.description,
      kind: node.kind,
      needs: node.needs.map((need) => scope.nodes[need]!.id),
    };
    if (parent !== undefined) info.parent = parent;
    if (node.kind === 'forEach') info.forEach = scope.nodes[node.producer]!.id;
    into.push(info);
    if (node.scope) listTasks(node.scope, node.id, into);
  }
}

function becomeReady(s: Scheduler, index: number, self: AnyActorRef): void {
  const node = s.nodes[index]!;
  if (node.kind === 'forEach') {
    settleForEach(s, index, self);
    return;
  }
  if (s.state[index] !== SCHEDULED) return;
  s.state[index] = READY;
  s.queue.push(index);
}

function startReady(s: Scheduler, self: AnyActorRef): void {
  while (s.running < s.limit && s.head < s.queue.length && s.stopping === undefined) {
    const index = s.queue[s.head++]!;
    if (s.state[index] !== READY) continue;
    s.state[index] = RUNNING;
    s.running += 1;
    const actor = spawnTask(s, index, self);
    const node = s.nodes[index]!;
    s.input.report({ type: 'task.started', time: s.input.now(), id: node.id, status: 'running' });
    if (node.feeds) openForEachs(s, node);
    actor.send({ type: 'start' });
  }
  if (s.head > 1024 && s.head * 2 > s.queue.length) {
    s.queue = s.queue.slice(s.head);
    s.head = 0;
  }
}

function spawnTask(s: Scheduler, index: number, self: AnyActorRef): AnyActorRef {
  const slot = s.freeSlots.pop() ?? s.slotOf.size;
  const node = s.nodes[index]!;
  const actor = createActor(s.input.taskLogic, {
    parent: self,
    id: `slot-${slot}`,
    input: { index, id: node.id, description: node.description, node, owner: self, now: s.input.now },
  });
  s.slotOf.set(index, slot);
  s.actors.set(index, actor);
  actor.start();
  return actor;
}

/** A producer started: its for-each tasks are running from now on, waiting for items. */
function openForEachs(s: Scheduler, producer: GraphNode): void {
  for (const index of producer.feeds ?? []) {
    if (s.state[index] !== SCHEDULED) continue;
    s.state[index] = RUNNING;
    const node = s.nodes[index]!;
    s.input.report({ type: 'task.started', time: s.input.now(), id: node.id, status: 'running' });
  }
}

function settle(s: Scheduler, outcome: TaskOutcome, self: AnyActorRef): void {
  const { index } = outcome;
  const node = s.nodes[index]!;
  const wasRunning = outcome.startedAt !== undefined;
  if (wasRunning) s.running -= 1;
  const slot = s.slotOf.get(index);
  if (slot !== undefined) {
    s.slotOf.delete(index);
    s.freeSlots.push(slot);
  }
  s.actors.delete(index);
  const time = outcome.completedAt ?? s.input.now();
  if (outcome.status === 'done') {
    markFinal(s, index, DONE);
    s.input.report({ type: 'task.done', time, id: node.id, status: 'done' });
  } else if (outcome.status === 'failed') {
    markFinal(s, index, FAILED);
    s.failed.push(node.id);
    s.input.report({
      type: 'task.failed',
      time,
      id: node.id,
      status: 'failed',
      error: outcome.error ?? { message: 'failed' },
    });
  } else {
    markFinal(s, index, CANCELLED);
    const event: TaskchartEvent = {
      type: 'task.cancelled',
      time,
      id: node.id,
      status: 'cancelled',
      reason: outcome.reason ?? 'interrupted',
    };
    if (outcome.prerequisite !== undefined) event.prerequisite = outcome.prerequisite;
    s.input.report(event);
  }
  afterFinal(s, index, self);
}

function markFinal(s: Scheduler, index: number, state: number): void {
  s.state[index] = state;
  s.settled += 1;
}

/** Follow-ups once a task is final: release dependents or cancel them, close for-each tasks. */
function afterFinal(s: Scheduler, index: number, self: AnyActorRef): void {
  const node = s.nodes[index]!;
  const state = s.state[index]!;
  if (node.kind === 'instance') instanceFinished(s, index, state, self);
  if (node.feeds) for (const forEach of node.feeds) producerFinished(s, forEach, index, self);
  if (state === DONE) {
    for (const next of node.dependents) {
      s.waiting[next]! -= 1;
      if (s.waiting[next] === 0) becomeReady(s, next, self);
    }
    return;
  }
  if (state === FAILED && s.input.failFast && s.stopping === undefined) {
    stopEverything(s, 'fail-fast', self);
    return;
  }
  cancelDependents(s, index, self);
}

/** Cancels, without running them, every task downstream of a failed or cancelled one. */
function cancelDependents(s: Scheduler, root: number, self: AnyActorRef): void {
  const stack = [root];
  while (stack.length > 0) {
    const index = stack.pop()!;
    const prerequisite = s.nodes[index]!.id;
    for (const next of s.nodes[index]!.dependents) {
      if (isFinalOrEnding(s, next)) continue;
      if (s.nodes[next]!.kind === 'forEach') {
        cancelForEach(s, next, 'prerequisite', prerequisite, self);
      } else {
        cancelTask(s, next, 'prerequisite', prerequisite, self);
      }
      stack.push(next);
    }
  }
}

/** Marks a task that will be final soon; its dependents are cancelled with it. */
const ENDING = 6;

function isFinalOrEnding(s: Scheduler, index: number): boolean {
  const state = s.state[index]!;
  return state >= DONE;
}

/**
 * Cancels one task through its machine: a running task's actor gets `cancel` (which aborts its
 * runner); a task that never started gets an actor that goes straight to `cancelled`.
 */
function cancelTask(
  s: Scheduler,
  index: number,
  reason: CancelReason,
  prerequisite: string | undefined,
  self: AnyActorRef,
): void {
  const event =
    prerequisite === undefined
      ? ({ type: 'cancel', reason } as const)
      : ({ type: 'cancel', reason, prerequisite } as const);
  const live = s.actors.get(index);
  if (s.state[index] === RUNNING && live) {
    live.send(event);
    return;
  }
  s.state[index] = ENDING;
  spawnTask(s, index, self).send(event);
}

/** A for-each task is the join of its instances; it ends without an actor of its own. */
function cancelForEach(
  s: Scheduler,
  index: number,
  reason: CancelReason,
  prerequisite: string | undefined,
  self: AnyActorRef,
): void {
  const node = s.nodes[index]!;
  markFinal(s, index, CANCELLED);
  const event: TaskchartEvent = { type: 'task.cancelled', time: s.input.now(), id: node.id, status: 'cancelled', reason };
  if (prerequisite !== undefined) event.prerequisite = prerequisite;
  s.input.report(event);
  for (let other = 0; other < s.nodes.length; other++) {
    const instance = s.nodes[other]!;
    if (instance.kind !== 'instance' || instance.producer !== index) continue;
    if (s.state[other] === SCHEDULED || s.state[other] === READY) {
      cancelTask(s, other, reason, prerequisite, self);
    }
  }
}

function stopEverything(s: Scheduler, reason: CancelReason, self: AnyActorRef): void {
  if (s.stopping !== undefined) return;
  s.stopping = reason;
  for (let index = 0; index < s.nodes.length; index++) {
    if (isFinalOrEnding(s, index)) continue;
    if (s.nodes[index]!.kind === 'forEach') {
      cancelForEach(s, index, reason, undefined, self);
      continue;
    }
    cancelTask(s, index, reason, undefined, self);
  }
}

/** A producer announced an item: each of its for-each tasks gets an instance for it. */
function produce(s: Scheduler, producerIndex: number, item: string, self: AnyActorRef): void {
  const producer = s.nodes[producerIndex]!;
  if (s.state[producerIndex] !== RUNNING) return;
  s.input.report({ type: 'task.file', time: s.input.now(), id: producer.id, status: 'running', path: item });
  for (const forEach of producer.feeds ?? []) {
    if (s.state[forEach] !== RUNNING || s.stopping !== undefined) continue;
    addInstance(s, forEach, item, self);
  }
}

function addInstance(s: Scheduler, forEach: number, item: string, self: AnyActorRef): void {
  const owner = s.nodes[forEach]!;
  const id = `${owner.id}[${item}]`;
  if (s.instanceIds.has(id)) return;
  s.instanceIds.add(id);
  const needs = owner.needs.filter((need) => need !== owner.producer);
  const index = s.nodes.length;
  const node: GraphNode = {
    id,
    description: `${owner.description}: ${item}`,
    kind: 'instance',
    needs,
    dependents: [],
    run: owner.run,
    producer: forEach,
    feeds: undefined,
    scope: undefined,
    item,
    source: owner.source,
  };
  s.nodes.push(node);
  s.state.push(SCHEDULED);
  s.openInstances.set(forEach, (s.openInstances.get(forEach) ?? 0) + 1);
  const info: TaskInfo = { id, description: node.description, kind: 'instance', needs: needs.map((n) => s.nodes[n]!.id), forEach: owner.id, item };
  const parent = s.input.scope.prefix ? s.input.scope.prefix.slice(0, -1) : undefined;
  if (parent !== undefined) info.parent = parent;
  s.input.report({ type: 'task.added', time: s.input.now(), id, status: 'scheduled', task: info });

  let waiting = 0;
  for (const need of needs) {
    const state = s.state[need]!;
    if (state === DONE) continue;
    if (state === FAILED || state === CANCELLED) {
      s.waiting.push(0);
      cancelTask(s, index, 'prerequisite', s.nodes[need]!.id, self);
      return;
    }
    waiting += 1;
    s.nodes[need]!.dependents.push(index);
  }
  s.waiting.push(waiting);
  if (waiting === 0) becomeReady(s, index, self);
}

function instanceFinished(s: Scheduler, index: number, state: number, self: AnyActorRef): void {
  const forEach = s.nodes[index]!.producer;
  s.openInstances.set(forEach, (s.openInstances.get(forEach) ?? 1) - 1);
  if (state === FAILED) s.instancesFailed.add(forEach);
  settleForEach(s, forEach, self);
}

function producerFinished(s: Scheduler, forEach: number, producer: number, self: AnyActorRef): void {
  if (s.state[producer] === DONE) return;
  if (isFinalOrEnding(s, forEach)) return;
  cancelForEach(s, forEach, 'prerequisite', s.nodes[producer]!.id, self);
  cancelDependents(s, forEach, self);
}

/** Ends a for-each task once its producer and prerequisites are done and every instance is final. */
function settleForEach(s: Scheduler, index: number, self: AnyActorRef): void {
  if (isFinalOrEnding(s, index)) return;
  if (s.waiting[index]! > 0 || (s.openInstances.get(index) ?? 0) > 0) return;
  const node = s.nodes[index]!;
  const time = s.input.now();
  if (s.state[index] === SCHEDULED) {
    s.input.report({ type: 'task.started', time, id: node.id, status: 'running' });
  }
  if (s.instancesFailed.has(index)) {
    markFinal(s, index, FAILED);
    s.failed.push(node.id);
    const message = 'one or more of its instances failed';
    s.input.report({ type: 'task.failed', time, id: node.id, status: 'failed', error: { message } });
  } else {
    markFinal(s, index, DONE);
    s.input.report({ type: 'task.done', time, id: node.id, status: 'done' });
  }
  afterFinal(s, index, self);
}

function isStuck(s: Scheduler): boolean {
  if (s.settled === s.nodes.length || s.running > 0 || s.actors.size > 0) return false;
  return s.head >= s.queue.length || s.stopping !== undefined;
}

function detectStuck(s: Scheduler): void {
  const stuck: string[] = [];
  for (let index = 0; index < s.nodes.length; index++) {
    if (s.state[index]! < DONE) stuck.push(s.nodes[index]!.id);
  }
  const shown = stuck.slice(0, 10).join(', ') + (stuck.length > 10 ? `, and ${stuck.length - 10} more` : '');
  s.error = `the run cannot go on: nothing is running and ${stuck.length} task(s) can never start: ${shown}`;
}
