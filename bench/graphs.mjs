/**
 * The benchmark inputs, as plain `{ id, needs }` lists every contestant receives unchanged:
 * a seeded random DAG and the dependency graph of a real npm lockfile.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A real npm lockfile (lockfileVersion 3) resolved from the npm registry for jest@29 and
 * webpack@5; a public file, copied unchanged. See bench/data/README.md.
 */
export const LOCKFILE = fileURLToPath(
  new URL('./data/npm-lock-jest-webpack.json', import.meta.url),
);

/** mulberry32: a tiny 32-bit seeded generator, enough to make the same graph on every run. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `size` tasks `t0`… where about a quarter have no prerequisite and the rest need one to three
 * distinct earlier tasks, chosen at random. Same seed, same graph.
 */
export function randomDag(size, seed = 1) {
  const random = mulberry32(seed);
  const tasks = [];
  for (let i = 0; i < size; i += 1) {
    const needs = [];
    if (i > 0 && random() >= 0.25) {
      const wanted = Math.min(i, 1 + Math.floor(random() * 3));
      while (needs.length < wanted) {
        const need = `t${Math.floor(random() * i)}`;
        if (!needs.includes(need)) needs.push(need);
      }
    }
    tasks.push({ id: `t${i}`, needs });
  }
  return tasks;
}

/**
 * One task per package of the lockfile, needing the packages its `dependencies` resolve to the
 * way Node does: the nearest `node_modules/<name>` walking up from the dependent's own path.
 *
 * Two kinds of declared dependency are not prerequisites, on purpose:
 * - `optionalDependencies`: npm goes on when one fails to install or build, so the dependent
 *   never waits for it (the only one here is fsevents, macOS-only);
 * - `peerDependencies`: the consumer provides them, they are not built before the package, and
 *   following them closes cycles here (webpack -> schema-utils -> webpack, among five).
 */
export function lockfileDag(file = LOCKFILE) {
  const packages = JSON.parse(fs.readFileSync(file, 'utf8')).packages;
  const resolve = (from, name) => {
    for (let base = from; ; base = base.slice(0, base.lastIndexOf('/node_modules/'))) {
      const candidate = `${base}/node_modules/${name}`;
      if (packages[candidate]) return candidate;
      if (!base.includes('/node_modules/')) break;
    }
    const top = `node_modules/${name}`;
    return packages[top] ? top : undefined;
  };

  const tasks = [];
  for (const [path, entry] of Object.entries(packages)) {
    if (!path.startsWith('node_modules/')) continue;
    const needs = Object.keys(entry.dependencies ?? {}).map((name) => {
      const target = resolve(path, name);
      if (!target) throw new Error(`${file}: ${path} depends on ${name}, not in the lockfile.`);
      return packageId(target);
    });
    tasks.push({ id: packageId(path), needs });
  }
  if (new Set(tasks.map((task) => task.id)).size !== tasks.length) {
    throw new Error(`${file}: two package paths map to the same task id.`);
  }
  assertAcyclic(tasks);
  return tasks;
}

/**
 * A task id for a package path that every contestant accepts (no `/`):
 * `node_modules/@babel/core` -> `@babel__core`, `node_modules/make-dir/node_modules/semver`
 * -> `make-dir>semver`.
 */
function packageId(path) {
  const chain = path.slice('node_modules/'.length).split('/node_modules/');
  return chain.map((name) => name.replace('/', '__')).join('>');
}

/** Counts edges; for the report. */
export function edgeCount(tasks) {
  return tasks.reduce((sum, task) => sum + task.needs.length, 0);
}

/** Throws if some task can never become ready. */
export function assertAcyclic(tasks) {
  const waitingOn = new Map(tasks.map((task) => [task.id, task.needs.length]));
  const dependents = new Map(tasks.map((task) => [task.id, []]));
  for (const task of tasks) for (const need of task.needs) dependents.get(need).push(task.id);
  const ready = tasks.filter((task) => task.needs.length === 0).map((task) => task.id);
  for (let i = 0; i < ready.length; i += 1) {
    for (const next of dependents.get(ready[i])) {
      waitingOn.set(next, waitingOn.get(next) - 1);
      if (waitingOn.get(next) === 0) ready.push(next);
    }
  }
  if (ready.length !== tasks.length) {
    const stuck = tasks.length - ready.length;
    throw new Error(`The graph has a cycle: ${stuck} tasks never become ready.`);
  }
}
