import { WorkflowValidationError, type WorkflowIssue } from '../errors.js';
import {
  checkLimits,
  checkNumber,
  compileRetry,
  issue,
  MAX_DELAY_MS,
  MAX_DEPTH,
  show,
  TASK_KEYS,
  unknownKeys,
  WORKFLOW_KEYS,
} from './checks.js';
import type {
  SourceLocation,
  TaskDefinition,
  TaskInfo,
  TaskRunner,
  WorkflowDefinition,
} from '../types.js';

export type NodeKind = 'task' | 'group' | 'forEach' | 'instance';

/** How a failed task is tried again; all times in ms. */
export interface RetryPolicy {
  retries: number;
  delay: number;
  backoff: number;
  maxDelay: number;
  jitter: number;
}

/** One task of a scope, addressed by its index; edges are indices in declaration order. */
export interface GraphNode {
  /** Qualified id: `group/child`, `forEach[item]`. */
  id: string;
  description: string;
  kind: NodeKind;
  needs: number[];
  dependents: number[];
  run: TaskRunner | undefined;
  /** forEach: the producer's index. */
  producer: number;
  /** Producer: the for-each tasks it feeds. */
  feeds: number[] | undefined;
  /** Group: its own scope. */
  scope: CompiledScope | undefined;
  /** Instance: the item it was created for. */
  item: string | undefined;
  /** An attempt running longer than this many ms fails with reason `timeout`. */
  timeout: number | undefined;
  retry: RetryPolicy | undefined;
  source: SourceLocation | undefined;
}

/** A workflow or a group, validated and indexed, ready for the orchestrator. */
export interface CompiledScope {
  /** `''` at the top, `group/` inside a group. */
  prefix: string;
  name: string | undefined;
  nodes: GraphNode[];
  maxParallel: number;
  failFast: boolean;
}

const RESERVED = /[/[\]\u0000-\u001f\u007f]/;

/**
 * Validates a workflow and indexes it. Every problem found is reported together, each with the
 * task's location, before anything runs. Iterative throughout, so long chains are fine.
 */
export function compileWorkflow(definition: WorkflowDefinition): CompiledScope {
  if (typeof definition !== 'object' || definition === null) {
    const message = `a workflow must be an object with a list of tasks, got ${show(definition)}`;
    throw new WorkflowValidationError([{ message }]);
  }
  const issues: WorkflowIssue[] = [];
  issues.push(...unknownKeys(definition, WORKFLOW_KEYS, undefined, 'workflow'));
  const limits = checkLimits(definition.maxParallel, definition.failFast, undefined, 'workflow');
  issues.push(...limits);
  const scope = compileScope(definition.tasks, '', issues, undefined, 0);
  scope.name = definition.name;
  scope.maxParallel = definition.maxParallel ?? 0;
  scope.failFast = definition.failFast ?? false;
  if (issues.length > 0) throw new WorkflowValidationError(issues);
  return scope;
}

function compileScope(
  given: readonly TaskDefinition[] | undefined,
  prefix: string,
  issues: WorkflowIssue[],
  owner: TaskDefinition | undefined,
  depth: number,
): CompiledScope {
  const scope: CompiledScope = {
    prefix,
    name: undefined,
    nodes: [],
    maxParallel: 0,
    failFast: false,
  };
  const where = owner ? `group "${prefix.slice(0, -1)}"` : 'the workflow';
  const field = owner ? `${prefix.slice(0, -1)}.tasks` : 'tasks';
  if (depth > MAX_DEPTH) {
    const message = `groups nest more than ${MAX_DEPTH} levels deep here; flatten them`;
    issues.push(issue(owner?.source, field, message));
    return scope;
  }
  if (!Array.isArray(given)) {
    issues.push(issue(owner?.source, field, `must be a list of tasks, got ${show(given)}`));
    return scope;
  }
  const tasks = given.filter((task, index) => {
    if (typeof task === 'object' && task !== null) return true;
    issues.push(
      issue(owner?.source, `${field}[${index}]`, `must be a task object, got ${show(task)}`),
    );
    return false;
  });
  if (tasks.length === 0) {
    if (given.length === 0)
      issues.push(issue(owner?.source, field, `${where} has no tasks; add at least one`));
    return scope;
  }

  const byId = new Map<string, number>();
  tasks.forEach((task, index) => {
    const node = compileNode(task, prefix, issues, depth);
    scope.nodes.push(node);
    if (typeof task.id !== 'string') return;
    const first = byId.get(task.id);
    if (first === undefined) {
      byId.set(task.id, index);
      return;
    }
    const firstAt = tasks[first]?.source;
    const seen = firstAt
      ? `; first defined at ${firstAt.file}:${firstAt.line}:${firstAt.column}`
      : '';
    issues.push(
      issue(
        task.source,
        `${prefix}${task.id}`,
        `duplicate task id "${task.id}" in ${where}${seen}`,
      ),
    );
  });

  tasks.forEach((task, index) => linkNode(task, index, scope, byId, where, issues));
  // Unknown and self prerequisites are left out of the edges, so cycles can still be named.
  issues.push(...findCycles(scope, tasks));
  return scope;
}

function compileNode(
  task: TaskDefinition,
  prefix: string,
  issues: WorkflowIssue[],
  depth: number,
): GraphNode {
  const at = task.source;
  issues.push(...unknownKeys(task, TASK_KEYS, at, `${prefix}${String(task.id)}`));
  const validId = typeof task.id === 'string' && task.id.length > 0 && !RESERVED.test(task.id);
  if (!validId) {
    issues.push(
      issue(
        at,
        'id',
        `task id must be a non-empty string without "/", "[", "]" or control characters, got ${show(task.id)}`,
      ),
    );
  }
  const id = `${prefix}${String(task.id)}`;
  const isGroup = task.tasks !== undefined;
  const isForEach = task.forEach !== undefined;
  const node: GraphNode = {
    id,
    description: typeof task.description === 'string' ? task.description : id,
    kind: isGroup ? 'group' : isForEach ? 'forEach' : 'task',
    needs: [],
    dependents: [],
    run: typeof task.run === 'function' ? task.run : undefined,
    producer: -1,
    feeds: undefined,
    scope: undefined,
    item: undefined,
    timeout: undefined,
    retry: undefined,
    source: at,
  };
  node.timeout = checkNumber(
    task.timeout,
    `${id}.timeout`,
    `a number of ms > 0 and at most ${MAX_DELAY_MS}`,
    (n) => n > 0 && n <= MAX_DELAY_MS,
    at,
    issues,
  );
  node.retry = compileRetry(task, id, isGroup, issues);
  if (isGroup && task.run !== undefined) {
    issues.push(issue(at, id, 'a task has either "run" or "tasks", not both'));
  }
  if (!isGroup && typeof task.run !== 'function') {
    issues.push(
      issue(at, `${id}.run`, `must be a function (the task's work), got ${show(task.run)}`),
    );
  }
  if (isForEach && isGroup)
    issues.push(issue(at, `${id}.forEach`, 'a for-each task cannot be a group'));
  if (!isGroup && (task.maxParallel !== undefined || task.failFast !== undefined)) {
    issues.push(
      issue(at, id, '"maxParallel" and "failFast" apply only to groups (tasks with "tasks")'),
    );
  }
  if (isGroup) {
    issues.push(...checkLimits(task.maxParallel, task.failFast, at, id));
    const scope = compileScope(task.tasks, `${id}/`, issues, task, depth + 1);
    scope.maxParallel = task.maxParallel ?? 0;
    scope.failFast = task.failFast ?? false;
    node.scope = scope;
  }
  return node;
}

function linkNode(
  task: TaskDefinition,
  index: number,
  scope: CompiledScope,
  byId: Map<string, number>,
  where: string,
  issues: WorkflowIssue[],
): void {
  const node = scope.nodes[index]!;
  const at = task.source;
  const needs = task.needs ?? [];
  if (!Array.isArray(needs)) {
    issues.push(issue(at, `${node.id}.needs`, `must be a list of task ids, got ${show(needs)}`));
    return;
  }
  const seen = new Set<number>();
  for (const need of needs as unknown[]) {
    const target = typeof need === 'string' ? byId.get(need) : undefined;
    if (target === undefined) {
      issues.push(issue(at, `${node.id}.needs`, unknownNeed(need, where)));
      continue;
    }
    if (target === index) {
      issues.push(issue(at, `${node.id}.needs`, `task "${String(task.id)}" needs itself`));
      continue;
    }
    if (seen.has(target)) continue;
    seen.add(target);
    node.needs.push(target);
  }
  if (task.forEach !== undefined) linkForEach(task, node, index, scope, byId, where, issues);
  for (const need of node.needs) scope.nodes[need]!.dependents.push(index);
}

function linkForEach(
  task: TaskDefinition,
  node: GraphNode,
  index: number,
  scope: CompiledScope,
  byId: Map<string, number>,
  where: string,
  issues: WorkflowIssue[],
): void {
  const at = task.source;
  const producer = typeof task.forEach === 'string' ? byId.get(task.forEach) : undefined;
  if (producer === undefined) {
    issues.push(
      issue(at, `${node.id}.forEach`, `"${String(task.forEach)}" is not a task in ${where}`),
    );
    return;
  }
  const target = scope.nodes[producer]!;
  if (producer === index || target.kind !== 'task') {
    const what =
      producer === index ? 'itself' : `a ${target.kind === 'group' ? 'group' : 'for-each task'}`;
    issues.push(
      issue(
        at,
        `${node.id}.forEach`,
        `"${String(task.forEach)}" is ${what}, not a producer; name a task with "run" that announces files`,
      ),
    );
    return;
  }
  node.producer = producer;
  target.feeds = [...(target.feeds ?? []), index];
  if (!node.needs.includes(producer)) node.needs.push(producer);
}

/** Kahn's algorithm; the tasks left over lie on or behind a cycle, and each cycle is named. */
function findCycles(scope: CompiledScope, tasks: readonly TaskDefinition[]): WorkflowIssue[] {
  const { nodes } = scope;
  const waiting = nodes.map((node) => node.needs.length);
  const queue: number[] = [];
  waiting.forEach((count, index) => count === 0 && queue.push(index));
  for (let head = 0; head < queue.length; head++) {
    for (const next of nodes[queue[head]!]!.dependents) {
      waiting[next]! -= 1;
      if (waiting[next] === 0) queue.push(next);
    }
  }
  if (queue.length === nodes.length) return [];

  const issues: WorkflowIssue[] = [];
  const named = new Set<number>();
  for (let start = 0; start < nodes.length; start++) {
    if (waiting[start] === 0 || named.has(start)) continue;
    const cycle = walkToCycle(start, nodes, waiting);
    if (cycle.some((index) => named.has(index))) continue;
    cycle.forEach((index) => named.add(index));
    const first = Math.min(...cycle);
    const at = cycle.indexOf(first);
    const ordered = [...cycle.slice(at), ...cycle.slice(0, at), first];
    const path = ordered.map((index) => String(tasks[index]!.id)).join(' → ');
    issues.push(
      issue(
        tasks[first]!.source,
        `${nodes[first]!.id}.needs`,
        `cycle: ${path} (each task needs the next)`,
      ),
    );
  }
  return issues;
}

/** From a task left over by Kahn's algorithm, follow unfinished needs until one repeats. */
function walkToCycle(start: number, nodes: GraphNode[], waiting: number[]): number[] {
  const order: number[] = [];
  const position = new Map<number, number>();
  let current = start;
  while (!position.has(current)) {
    position.set(current, order.length);
    order.push(current);
    const next = nodes[current]!.needs.find((need) => waiting[need]! > 0);
    if (next === undefined) return [];
    current = next;
  }
  return order.slice(position.get(current));
}

function unknownNeed(need: unknown, where: string): string {
  if (typeof need !== 'string')
    return `needs entries must be task ids (strings), got ${show(need)}`;
  const name = need;
  if (typeof need === 'string' && /\[.*\]$/.test(need)) {
    const forEach = need.slice(0, need.indexOf('['));
    return `needs "${name}", a for-each instance; name the for-each task "${forEach}" instead`;
  }
  if (typeof need === 'string' && need.includes('/')) {
    return `needs "${name}", a task inside a group; a task can only need tasks of its own scope, so name the group "${need.split('/')[0]}" instead`;
  }
  return `needs "${name}", which is not a task in ${where}`;
}

/** Every task of a scope and its groups, depth first, in declaration order. */
export function listTasks(
  scope: CompiledScope,
  parent?: string,
  into: TaskInfo[] = [],
): TaskInfo[] {
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
  return into;
}
