/**
 * Random workflows for property tests: a generator of workflow specs, a fake clock the test
 * advances, runners that follow a plan on that clock, and a checker that holds every run to the
 * scheduling rules of the README, read from the event stream and from the runners themselves.
 */
import fc from 'fast-check';
import {
  createStatusTable,
  createWorkflow,
  type RunResult,
  type TaskchartEvent,
  type TaskContext,
  type TaskDefinition,
  type TaskRunner,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Specs

export type Outcome = 'succeed' | 'throw' | 'reject' | 'never';

/** What a runner does: wait `duration` ms of fake time, then end as `outcome`. */
export interface Plan {
  outcome: Outcome;
  duration: number;
  /** Reports progress and a log line before it waits. */
  chatter?: boolean;
  /** For `reject`: which non-Error value (see `NON_ERRORS`). */
  value?: number;
}

/** A producer announces item `ITEMS[item]` at `at` ms after it starts (before its own end). */
export interface Produce {
  at: number;
  item: number;
}

/** A task of a spec; `needs` are indices of earlier siblings, taken modulo the node's index. */
export type NodeSpec =
  | { kind: 'task'; needs?: number[]; plan: Plan; produces?: Produce[] }
  | { kind: 'forEach'; needs?: number[]; producer: number; perItem: Plan[] }
  | {
      kind: 'group';
      needs?: number[];
      maxParallel: number;
      failFast: boolean;
      children: NodeSpec[];
    };

export interface RunSpec {
  tasks: NodeSpec[];
  maxParallel: number;
  failFast: boolean;
  /** Whether the top-level limits are set in the workflow or in the run options. */
  limitsIn: 'workflow' | 'options';
  /** When `run.cancel()` is called, in fake ms; -1 = right after `run()`; none = never. */
  interruptAt?: number;
}

export const ITEMS = ['a', 'b', 'c', 'd'] as const;
export const NON_ERRORS: readonly unknown[] = ['plain string', 42, { code: 7 }, undefined, null];

// ---------------------------------------------------------------------------------------------
// Generators

const planArb: fc.Arbitrary<Plan> = fc.record({
  outcome: fc.constantFrom<Outcome>(
    'succeed',
    'succeed',
    'succeed',
    'succeed',
    'succeed',
    'throw',
    'reject',
    'never',
  ),
  duration: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 })),
  chatter: fc.boolean(),
  value: fc.integer({ min: 0, max: NON_ERRORS.length - 1 }),
});

const producesArb = fc.array(
  fc.record({
    at: fc.integer({ min: 0, max: 50 }),
    item: fc.integer({ min: 0, max: ITEMS.length - 1 }),
  }),
  { maxLength: 4 },
);
const needsArb = fc.array(fc.nat({ max: 40 }), { maxLength: 3 });

function nodeArb(depth: number): fc.Arbitrary<NodeSpec> {
  const task = fc.record({
    kind: fc.constant('task' as const),
    needs: needsArb,
    plan: planArb,
    produces: producesArb,
  });
  const forEach = fc.record({
    kind: fc.constant('forEach' as const),
    needs: needsArb,
    producer: fc.nat({ max: 40 }),
    perItem: fc.array(planArb, { minLength: ITEMS.length, maxLength: ITEMS.length }),
  });
  if (depth >= 2)
    return fc.oneof({ arbitrary: task, weight: 4 }, { arbitrary: forEach, weight: 1 });
  const group = fc.record({
    kind: fc.constant('group' as const),
    needs: needsArb,
    maxParallel: fc.integer({ min: 0, max: 3 }),
    failFast: fc.boolean(),
    children: fc.array(nodeArb(depth + 1), {
      minLength: 1,
      maxLength: depth === 0 ? 10 : 5,
      size: 'max',
    }),
  });
  return fc.oneof(
    { arbitrary: task, weight: 8 },
    { arbitrary: forEach, weight: 2 },
    { arbitrary: group, weight: 1 },
  );
}

export const runSpecArb: fc.Arbitrary<RunSpec> = fc.record(
  {
    tasks: fc.array(nodeArb(0), { minLength: 1, maxLength: 50, size: 'max' }),
    maxParallel: fc.integer({ min: 0, max: 5 }),
    failFast: fc.boolean(),
    limitsIn: fc.constantFrom<'workflow' | 'options'>('workflow', 'options'),
    interruptAt: fc.integer({ min: -1, max: 150 }),
  },
  { requiredKeys: ['tasks', 'maxParallel', 'failFast', 'limitsIn'] },
);

// ---------------------------------------------------------------------------------------------
// Fake clock

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock whose time moves only when the test fires its next timer. */
export function createFakeClock(start = 1_000_000) {
  let time = start;
  let seq = 0;
  const timers = new Map<number, Timer>();
  const clock = {
    now: (): number => time,
    setTimeout: (fn: () => void, ms: number): unknown => {
      const timer = { at: time + Math.max(0, ms), seq: ++seq, fn };
      timers.set(timer.seq, timer);
      return timer.seq;
    },
    clearTimeout: (handle: unknown): void => {
      timers.delete(handle as number);
    },
    pending: (): number => timers.size,
    /** Moves time to the earliest timer and fires it; false when no timer is left. */
    fireNext: (): boolean => {
      let next: Timer | undefined;
      for (const timer of timers.values()) {
        if (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
          next = timer;
      }
      if (!next) return false;
      timers.delete(next.seq);
      time = Math.max(time, next.at);
      next.fn();
      return true;
    },
    /** Resolves after `ms` of fake time; rejects with the signal's reason once it aborts. */
    sleep: (ms: number, signal: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = (): void => {
          clock.clearTimeout(handle);
          reject(signal.reason);
        };
        const handle = clock.setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
  };
  return clock;
}

export type FakeClock = ReturnType<typeof createFakeClock>;

// ---------------------------------------------------------------------------------------------
// The model: every task of a spec with its scope, prerequisites and plan

interface ScopeInfo {
  key: string;
  limit: number;
  failFast: boolean;
}

interface TaskInfo {
  id: string;
  kind: 'task' | 'group' | 'forEach' | 'instance';
  scope: ScopeInfo;
  /** The enclosing group's id. */
  parent: string | undefined;
  /** Qualified ids the task waits for (for a for-each, its producer too). */
  needs: string[];
  plan: Plan | undefined;
  produces: Produce[];
  producer: string | undefined;
  forEach: string | undefined;
  perItem: Plan[];
  children: string[];
}

interface Model {
  tasks: Map<string, TaskInfo>;
  definition: TaskDefinition[];
}

function buildModel(spec: RunSpec, probe: Probe): Model {
  const tasks = new Map<string, TaskInfo>();
  const top: ScopeInfo = { key: '', limit: spec.maxParallel, failFast: spec.failFast };
  const definition = buildScope(spec.tasks, '', undefined, top, tasks, probe);
  return { tasks, definition };
}

function buildScope(
  nodes: readonly NodeSpec[],
  prefix: string,
  parent: string | undefined,
  scope: ScopeInfo,
  tasks: Map<string, TaskInfo>,
  probe: Probe,
): TaskDefinition[] {
  const definitions: TaskDefinition[] = [];
  nodes.forEach((raw, index) => {
    const node = normalise(raw, index, nodes);
    const name = `t${index}`;
    const id = `${prefix}${name}`;
    const needs = [...new Set((node.needs ?? []).map((need) => need % Math.max(1, index)))]
      .filter(() => index > 0)
      .map((need) => `t${need}`);
    const info: TaskInfo = {
      id,
      kind: node.kind,
      scope,
      parent,
      needs: needs.map((need) => `${prefix}${need}`),
      plan: undefined,
      produces: [],
      producer: undefined,
      forEach: undefined,
      perItem: [],
      children: [],
    };
    tasks.set(id, info);
    if (parent !== undefined) tasks.get(parent)!.children.push(id);
    if (node.kind === 'task') {
      info.plan = node.plan;
      info.produces = [...(node.produces ?? [])].sort((x, y) => x.at - y.at);
      definitions.push({ id: name, needs, run: leafRunner(info, probe) });
    } else if (node.kind === 'forEach') {
      const producer = `t${node.producer}`;
      info.producer = `${prefix}${producer}`;
      if (!info.needs.includes(info.producer)) info.needs.push(info.producer);
      info.perItem = node.perItem;
      definitions.push({ id: name, needs, forEach: producer, run: instanceRunner(info, probe) });
    } else {
      const inner: ScopeInfo = { key: id, limit: node.maxParallel, failFast: node.failFast };
      const children = buildScope(node.children, `${id}/`, id, inner, tasks, probe);
      definitions.push({
        id: name,
        needs,
        maxParallel: node.maxParallel,
        failFast: node.failFast,
        tasks: children,
      });
    }
  });
  return definitions;
}

/** A for-each whose producer index does not name an earlier plain task picks one, or becomes a task. */
function normalise(node: NodeSpec, index: number, siblings: readonly NodeSpec[]): NodeSpec {
  if (node.kind !== 'forEach') return node;
  const candidates = siblings
    .slice(0, index)
    .flatMap((sibling, at) => (sibling.kind === 'task' ? [at] : []));
  if (candidates.length === 0) {
    const plan = node.perItem[0] ?? { outcome: 'succeed', duration: 0 };
    return { kind: 'task', plan, ...(node.needs ? { needs: node.needs } : {}) };
  }
  const producer = candidates.includes(node.producer)
    ? node.producer
    : candidates[node.producer % candidates.length]!;
  return { ...node, producer };
}

// ---------------------------------------------------------------------------------------------
// Runners and their instrumentation

/** What the runners see: which tasks run now, per scope, as the runners count them. */
interface Probe {
  clock: FakeClock;
  problems: string[];
  /** Set by the checker: the state of each task as the events say, at this moment. */
  stateOf: (id: string) => string | undefined;
  active: Map<string, number>;
  calls: Map<string, number>;
  aborted: Set<string>;
  /** Runners that settled on their own (their outcome may still be on its way to the engine). */
  settled: Set<string>;
  limitOf: (id: string) => { key: string; limit: number };
}

function enter(probe: Probe, ctx: TaskContext): (how: 'settled' | 'aborted') => void {
  const id = ctx.id;
  probe.calls.set(id, (probe.calls.get(id) ?? 0) + 1);
  if (probe.calls.get(id)! > 1) probe.problems.push(`runner of ${id} was called twice`);
  const state = probe.stateOf(id);
  if (state !== 'started')
    probe.problems.push(`runner of ${id} was called while its events say "${state ?? 'unknown'}"`);
  const { key, limit } = probe.limitOf(id);
  const count = (probe.active.get(key) ?? 0) + 1;
  probe.active.set(key, count);
  if (limit > 0 && count > limit) {
    probe.problems.push(
      `${count} runners of scope "${key || 'top'}" ran at once (limit ${limit}) when ${id} began`,
    );
  }
  let left = false;
  return (how) => {
    if (left) return;
    left = true;
    probe[how].add(id);
    probe.active.set(key, (probe.active.get(key) ?? 1) - 1);
  };
}

function nonError(plan: Plan): unknown {
  return NON_ERRORS[(plan.value ?? 0) % NON_ERRORS.length];
}

/** Runs a plan: synchronously when it has nothing to wait for, else on the fake clock. */
function follow(
  plan: Plan,
  ctx: TaskContext,
  probe: Probe,
  before?: (signal: AbortSignal) => Promise<void>,
): unknown {
  const leave = enter(probe, ctx);
  const quick = plan.duration === 0 && plan.outcome !== 'never' && !plan.chatter && !before;
  if (quick) {
    leave('settled');
    if (plan.outcome === 'throw') throw new Error(`${ctx.id} broke`);
    if (plan.outcome === 'reject') return Promise.reject(nonError(plan));
    return undefined;
  }
  const signal = ctx.signal;
  signal.addEventListener('abort', () => leave('aborted'), { once: true });
  const work = async (): Promise<void> => {
    try {
      if (plan.chatter) {
        ctx.progress(0.5, 'halfway');
        ctx.log.info(`working on ${ctx.item ?? ctx.id}`);
      }
      if (before) await before(signal);
      await probe.clock.sleep(plan.duration, signal);
      if (plan.outcome === 'throw') throw new Error(`${ctx.id} broke`);
      if (plan.outcome === 'reject') throw nonError(plan);
      if (plan.outcome === 'never') {
        await new Promise<never>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
    } finally {
      leave('settled');
    }
  };
  return work();
}

function leafRunner(info: TaskInfo, probe: Probe): TaskRunner {
  const plan = info.plan!;
  if (info.produces.length === 0) return (ctx) => follow(plan, ctx, probe);
  return (ctx) =>
    follow(plan, ctx, probe, async (signal) => {
      let elapsed = 0;
      for (const { at, item } of info.produces) {
        await probe.clock.sleep(at - elapsed, signal);
        elapsed = at;
        ctx.produce(ITEMS[item]!);
      }
    });
}

function instanceRunner(info: TaskInfo, probe: Probe): TaskRunner {
  return (ctx) => {
    const item = ITEMS.indexOf(ctx.item as (typeof ITEMS)[number]);
    const plan = info.perItem[item] ?? { outcome: 'succeed', duration: 0 };
    return follow(plan, ctx, probe);
  };
}

// ---------------------------------------------------------------------------------------------
// Running a spec

type Entry = TaskchartEvent | { type: 'interrupt'; time: number; forced: boolean };

export interface Checked {
  result: RunResult;
  events: Entry[];
  steps: number;
}

const MAX_STEPS = 50_000;

/** Runs a spec on a fake clock and throws a one-line error for the first rule it breaks. */
export async function checkRun(spec: RunSpec): Promise<Checked> {
  const clock = createFakeClock();
  const problems: string[] = [];
  const events: Entry[] = [];
  const state = new Map<string, string>();
  const probe: Probe = {
    clock,
    problems,
    stateOf: (id) => state.get(id),
    active: new Map(),
    calls: new Map(),
    aborted: new Set(),
    settled: new Set(),
    limitOf: (id) => {
      const info = model.tasks.get(id) ?? model.tasks.get(id.slice(0, id.indexOf('[')));
      return { key: info?.scope.key ?? '?', limit: info?.scope.limit ?? 0 };
    },
  };
  const model = buildModel(spec, probe);
  const top =
    spec.limitsIn === 'workflow' ? { maxParallel: spec.maxParallel, failFast: spec.failFast } : {};
  const options =
    spec.limitsIn === 'options' ? { maxParallel: spec.maxParallel, failFast: spec.failFast } : {};
  const run = createWorkflow({ ...top, tasks: model.definition }).run({
    ...options,
    clock,
    graceMs: 100,
  });
  run.on('*', (event) => {
    events.push(event);
    if (event.type === 'task.started') state.set(event.id, 'started');
    if (
      event.type === 'task.done' ||
      event.type === 'task.failed' ||
      event.type === 'task.cancelled'
    ) {
      state.set(event.id, 'final');
    }
  });

  let interrupted = false;
  const interrupt = (forced: boolean): void => {
    if (interrupted) return;
    interrupted = true;
    events.push({ type: 'interrupt', time: clock.now(), forced });
    run.cancel();
  };
  if (spec.interruptAt === -1) interrupt(false);
  else if (spec.interruptAt !== undefined)
    clock.setTimeout(() => interrupt(false), spec.interruptAt);

  let result: RunResult | undefined;
  let failure: unknown;
  run.result.then(
    (value) => (result = value),
    (error: unknown) => (failure = error ?? new Error('rejected')),
  );
  let steps = 0;
  for (; ; steps++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (result || failure) break;
    if (steps >= MAX_STEPS) throw new Error(`the run did not end within ${MAX_STEPS} timer steps`);
    if (clock.fireNext()) continue;
    // Nothing is left to happen on its own: only runners that wait for an abort may remain.
    const waiting = [...state].filter(([, s]) => s === 'started').map(([id]) => id);
    const stuck = waiting.filter(
      (id) => planOf(model, id)?.outcome !== 'never' && leafKind(model, id),
    );
    if (stuck.length > 0 || interrupted) {
      throw new Error(`the run hangs with no timer left; running: ${waiting.join(', ') || 'none'}`);
    }
    interrupt(true);
  }
  if (failure) throw new Error(`run.result rejected: ${String(failure)}`);
  if (problems.length > 0) throw new Error(problems[0]);
  checkEvents(model, events, result!, probe);
  return { result: result!, events, steps };
}

function planOf(model: Model, id: string): Plan | undefined {
  const info = model.tasks.get(id);
  if (info) return info.plan;
  const open = id.indexOf('[');
  const owner = model.tasks.get(id.slice(0, open));
  const item = ITEMS.indexOf(id.slice(open + 1, -1) as (typeof ITEMS)[number]);
  return owner?.perItem[item] ?? { outcome: 'succeed', duration: 0 };
}

function leafKind(model: Model, id: string): boolean {
  const kind = model.tasks.get(id)?.kind ?? 'instance';
  return kind === 'task' || kind === 'instance';
}

// ---------------------------------------------------------------------------------------------
// The checker

const FINAL = new Set(['task.done', 'task.failed', 'task.cancelled']);
const MIDDLE = new Set(['task.progress', 'task.file', 'task.log', 'task.retrying']);

interface Seen {
  phase: 'scheduled' | 'added' | 'running' | 'final';
  final: TaskchartEvent['type'] | undefined;
  reason: string | undefined;
  started: boolean;
}

function checkEvents(
  model: Model,
  entries: readonly Entry[],
  result: RunResult,
  probe: Probe,
): void {
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const tasks = new Map(model.tasks);
  const seen = new Map<string, Seen>();
  for (const id of tasks.keys())
    seen.set(id, { phase: 'scheduled', final: undefined, reason: undefined, started: false });
  const running = new Map<string, number>();
  const failedIn = new Set<string>();
  const produced = new Map<string, Set<string>>();
  let interruptedAt = -1;
  let anyFailed = false;
  let runDone: TaskchartEvent | undefined;
  let runStarted = false;
  const named: { id: string; prerequisite: string }[] = [];

  const must = (condition: boolean, message: string): void => {
    if (!condition) fail(message);
  };
  const counted = (info: TaskInfo): boolean => info.kind !== 'forEach';

  entries.forEach((entry, position) => {
    if (entry.type === 'interrupt') {
      const allFinal = runStarted && [...seen.values()].every((s) => s.phase === 'final');
      if (!allFinal && interruptedAt < 0) interruptedAt = position;
      return;
    }
    must(runDone === undefined, `event ${entry.type} came after run.done`);
    if (entry.type === 'run.started') {
      must(!runStarted, 'run.started came twice');
      runStarted = true;
      const announced = entry.tasks.map((task) => task.id).sort();
      const expected = [...model.tasks.keys()].sort();
      must(
        JSON.stringify(announced) === JSON.stringify(expected),
        `run.started announced ${announced.join(',')} instead of ${expected.join(',')}`,
      );
      return;
    }
    if (entry.type === 'run.done') {
      runDone = entry;
      return;
    }
    must(runStarted, `${entry.type} of ${entry.id} came before run.started`);
    const id = entry.id;
    if (entry.type === 'task.added') {
      must(!tasks.has(id), `task.added for ${id}, which is already known`);
      const owner = tasks.get(entry.task.forEach ?? '');
      must(owner?.kind === 'forEach', `task.added for ${id} names no for-each task`);
      const item = entry.task.item ?? '';
      must(
        id === `${owner!.id}[${item}]`,
        `instance id ${id} does not match its for-each and item`,
      );
      must(
        produced.get(owner!.producer!)?.has(item) === true,
        `instance ${id} was added before its producer announced "${item}"`,
      );
      const ownerSeen = seen.get(owner!.id)!;
      must(
        ownerSeen.phase !== 'final',
        `instance ${id} was added after its for-each ${owner!.id} ended`,
      );
      const planIndex = ITEMS.indexOf(item as (typeof ITEMS)[number]);
      tasks.set(id, {
        ...owner!,
        id,
        kind: 'instance',
        needs: owner!.needs.filter((need) => need !== owner!.producer),
        plan: owner!.perItem[planIndex],
        forEach: owner!.id,
        children: [],
      });
      owner!.children.push(id);
      seen.set(id, { phase: 'added', final: undefined, reason: undefined, started: false });
      return;
    }
    const info = tasks.get(id);
    const state = seen.get(id);
    if (!info || !state) return fail(`${entry.type} for unknown task ${id}`);
    must(
      state.phase !== 'final',
      `${entry.type} of ${id} came after its final event ${state.final}`,
    );
    if (info.parent !== undefined) {
      const parent = seen.get(info.parent)!;
      must(
        parent.phase !== 'final',
        `${entry.type} of ${id} came after its group ${info.parent} ended`,
      );
    }

    if (entry.type === 'task.started') {
      must(state.phase === 'scheduled' || state.phase === 'added', `${id} started twice`);
      // A for-each starts with its first instance, while its producer still runs.
      for (const need of info.needs.filter((need) => need !== info.producer)) {
        must(
          seen.get(need)?.final === 'task.done',
          `${id} started before its prerequisite ${need} was done (${seen.get(need)?.final ?? 'not final'})`,
        );
      }
      if (info.parent !== undefined)
        must(seen.get(info.parent)!.started, `${id} started before its group ${info.parent}`);
      if (info.kind === 'instance')
        must(seen.get(info.forEach!)!.started, `${id} started before its for-each ${info.forEach}`);
      must(interruptedAt < 0, `${id} started after run.cancel()`);
      const stopped = info.scope.failFast && failedIn.has(info.scope.key);
      must(
        !stopped,
        `${id} started after a failure in its fail-fast scope "${info.scope.key || 'top'}"`,
      );
      state.phase = 'running';
      state.started = true;
      if (counted(info)) {
        const count = (running.get(info.scope.key) ?? 0) + 1;
        running.set(info.scope.key, count);
        const limit = info.scope.limit;
        must(
          limit === 0 || count <= limit,
          `${count} tasks of scope "${info.scope.key || 'top'}" ran at once (limit ${limit}) when ${id} started`,
        );
      }
      return;
    }
    if (MIDDLE.has(entry.type)) {
      must(state.phase === 'running', `${entry.type} of ${id} came while it was ${state.phase}`);
      if (entry.type === 'task.file') {
        must(
          info.produces.some((p) => ITEMS[p.item] === entry.path),
          `${id} announced "${entry.path}", which it never produced`,
        );
        const set = produced.get(id) ?? new Set<string>();
        set.add(entry.path);
        produced.set(id, set);
      }
      return;
    }
    if (!FINAL.has(entry.type)) return fail(`unexpected event ${entry.type} of ${id}`);

    if (state.started && counted(info))
      running.set(info.scope.key, (running.get(info.scope.key) ?? 1) - 1);
    state.phase = 'final';
    state.final = entry.type;
    const children = info.children.map((child) => ({ child, s: seen.get(child)! }));
    if (info.kind === 'group') {
      for (const { child, s } of children)
        must(s.phase === 'final', `group ${id} ended (${entry.type}) while ${child} is ${s.phase}`);
    }
    if (entry.type === 'task.done') {
      must(state.started, `${id} ended done without starting`);
      if (info.kind === 'task' || info.kind === 'instance') {
        must(
          info.plan?.outcome === 'succeed',
          `${id} ended done but its runner was planned to ${info.plan?.outcome}`,
        );
      } else {
        for (const { child, s } of children)
          must(s.final === 'task.done', `${id} ended done while ${child} is ${s.final ?? s.phase}`);
      }
      if (info.kind === 'forEach') {
        must(
          seen.get(info.producer!)!.final === 'task.done',
          `${id} ended done before its producer was done`,
        );
        const items = [...(produced.get(info.producer!) ?? [])].sort();
        const instances = info.children
          .map((child) => tasks.get(child)!.id.slice(id.length + 1, -1))
          .sort();
        must(
          items.join() === instances.join(),
          `${id} ended done with instances [${instances}] for items [${items}]`,
        );
      }
      return;
    }
    if (entry.type === 'task.failed') {
      anyFailed = true;
      failedIn.add(info.scope.key);
      must(state.started, `${id} failed without starting`);
      if (info.kind === 'task' || info.kind === 'instance') {
        const plan = info.plan!;
        must(
          plan.outcome === 'throw' || plan.outcome === 'reject',
          `${id} failed but its runner was planned to ${plan.outcome}`,
        );
        if (plan.outcome === 'throw')
          must(
            entry.error.message === `${id} broke`,
            `${id} failed with "${entry.error.message}" instead of "${id} broke"`,
          );
        must(
          typeof entry.error.message === 'string' && entry.error.message.length > 0,
          `${id} failed with an empty message`,
        );
      } else if (info.kind === 'group') {
        must(failedIn.has(id), `${id} failed though none of its children failed`);
      } else {
        must(
          children.some(({ s }) => s.final === 'task.failed'),
          `${id} failed though none of its instances failed`,
        );
      }
      return;
    }
    if (entry.type !== 'task.cancelled') return fail(`unexpected event ${entry.type} of ${id}`);
    const { reason, prerequisite } = entry;
    state.reason = reason;
    must(
      (prerequisite !== undefined) === (reason === 'prerequisite'),
      `${id} cancelled (${reason}) with prerequisite ${prerequisite}`,
    );
    if (reason === 'prerequisite') {
      const waitsFor = info.kind === 'instance' ? tasks.get(info.forEach!)!.needs : info.needs;
      must(
        waitsFor.includes(prerequisite!),
        `${id} cancelled for prerequisite ${prerequisite}, which it does not need`,
      );
      const cause = seen.get(prerequisite!)?.final;
      if (cause === undefined) named.push({ id, prerequisite: prerequisite! });
      else
        must(
          cause === 'task.failed' || cause === 'task.cancelled',
          `${id} cancelled for prerequisite ${prerequisite}, which is ${cause}`,
        );
      must(
        cause !== undefined,
        `${id} was reported cancelled for prerequisite ${prerequisite} before ${prerequisite} itself ended`,
      );
      must(
        !state.started || info.kind === 'forEach',
        `${id} cancelled for a prerequisite after it started`,
      );
    } else if (reason === 'fail-fast') {
      must(
        info.scope.failFast,
        `${id} cancelled fail-fast in scope "${info.scope.key || 'top'}", which does not fail fast`,
      );
      must(
        failedIn.has(info.scope.key),
        `${id} cancelled fail-fast before any task of scope "${info.scope.key || 'top'}" failed`,
      );
    } else if (reason === 'interrupted') {
      must(
        interruptedAt >= 0,
        `${id} cancelled as interrupted, but run.cancel() was not called while it ran`,
      );
    } else {
      must(info.parent !== undefined, `${id} cancelled for its parent, but it is not in a group`);
    }
    if (info.kind === 'task' || info.kind === 'instance') {
      const over = probe.aborted.has(id) || probe.settled.has(id);
      if (state.started)
        must(over, `${id} was cancelled while running but its signal never aborted`);
    }
  });

  must(runDone !== undefined, 'the run emitted no run.done');
  for (const { id, prerequisite } of named) {
    const cause = seen.get(prerequisite)?.final;
    must(
      cause === 'task.failed' || cause === 'task.cancelled',
      `${id} cancelled for prerequisite ${prerequisite}, which ended ${cause ?? 'never'}`,
    );
  }
  for (const [id, s] of seen) {
    must(s.phase === 'final', `${id} never reached a final state (it is ${s.phase})`);
    const info = tasks.get(id)!;
    if (s.reason === 'parent') {
      const parent = seen.get(info.parent!)!;
      must(
        parent.final === 'task.cancelled' && parent.reason !== 'interrupted',
        `${id} cancelled for its parent, but ${info.parent} ended ${parent.final} (${parent.reason})`,
      );
    }
    const calls = probe.calls.get(id) ?? 0;
    if (info.kind === 'task' || info.kind === 'instance') {
      must(
        calls === (s.started ? 1 : 0),
        `the runner of ${id} was called ${calls} time(s) though it ${s.started ? 'started' : 'never started'}`,
      );
    }
  }
  for (const [key, count] of probe.active)
    must(count === 0, `${count} runner(s) of scope "${key || 'top'}" never ended`);

  const expected = interruptedAt >= 0 ? 'cancelled' : anyFailed ? 'failed' : 'done';
  must(
    result.status === expected,
    `the run ended ${result.status}, expected ${expected}${result.error ? ` (${result.error})` : ''}`,
  );
  must(
    runDone!.type === 'run.done' && runDone!.status === result.status,
    'run.done and the result disagree on the status',
  );
  const table = createStatusTable();
  for (const entry of entries) if (entry.type !== 'interrupt') table.apply(entry);
  const replayed = JSON.stringify(table.results());
  must(
    replayed === JSON.stringify(result.tasks),
    'replaying the events gives other results than result.tasks',
  );
}
