/**
 * The schedulers under test, behind one shape:
 * `run(tasks, task, maxParallel, hooks)` runs every `{ id, needs }` of `tasks` with the same
 * `task` function (0 = no limit) and resolves once all are done, or rejects.
 * `load(name)` throws an `Unavailable` error when a contestant cannot be loaded yet.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runFloor } from './floor.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The built package; TASKCHART_BENCH_DIST points at another build, to compare two. */
export const DIST = process.env.TASKCHART_BENCH_DIST
  ? `${path.resolve(process.env.TASKCHART_BENCH_DIST)}${path.sep}`
  : fileURLToPath(new URL('../dist/', import.meta.url));

export class Unavailable extends Error {}

/** Imports a module of the built package, or explains what to do when it is not built. */
export async function importDist(relative) {
  const file = `${DIST}${relative}`;
  if (!fs.existsSync(file)) {
    throw new Unavailable(`${file} does not exist; run \`npm run build\` first.`);
  }
  try {
    return await import(pathToFileURL(file).href);
  } catch (err) {
    throw new Unavailable(`${file} failed to load: ${err.message}`);
  }
}

const floor = {
  run: (tasks, task, maxParallel) => runFloor(tasks, task, maxParallel),
};

async function loadPGraph() {
  const module = await import('p-graph');
  const PGraph = module.PGraph ?? module.default?.PGraph;
  return {
    async run(tasks, task, maxParallel) {
      const nodes = new Map();
      const dependencies = [];
      for (const { id, needs } of tasks) {
        nodes.set(id, { run: task });
        // p-graph reads a pair as "the first must complete before the second begins".
        for (const need of needs) dependencies.push([need, id]);
      }
      const concurrency = maxParallel > 0 ? maxParallel : undefined;
      await new PGraph(nodes, dependencies).run({ concurrency });
    },
  };
}

async function loadTaskchart() {
  const { createWorkflow } = await importDist('index.js');
  if (typeof createWorkflow !== 'function') {
    throw new Unavailable('dist/index.js does not export createWorkflow yet.');
  }
  return {
    async run(tasks, task, maxParallel, hooks = {}) {
      const workflow = createWorkflow({
        ...(maxParallel > 0 ? { maxParallel } : {}),
        tasks: tasks.map(({ id, needs }) => ({ id, needs, run: task })),
      });
      const run = workflow.run();
      hooks.started?.(run);
      const result = await run.result;
      await hooks.finished?.();
      checkResult(result, tasks.length);
    },
  };
}

/** The engine's own account must agree: the run is done and so is every task. */
function checkResult(result, expected) {
  const statuses = Object.values(result?.tasks ?? {}).map((task) => task.status);
  const done = statuses.filter((status) => status === 'done').length;
  if (result?.status === 'done' && done === expected && statuses.length === expected) return;
  throw new Error(
    `taskchart reported run ${result?.status} with ${done} of ${statuses.length} tasks done; ` +
      `expected done with ${expected} of ${expected}.`,
  );
}

export const CONTESTANTS = ['taskchart', 'p-graph', 'floor'];

export async function load(name) {
  if (name === 'floor') return floor;
  if (name === 'p-graph') return loadPGraph();
  if (name === 'taskchart') return loadTaskchart();
  throw new Error(`Unknown contestant ${name}; expected one of ${CONTESTANTS.join(', ')}.`);
}
