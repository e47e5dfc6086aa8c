// The cost of one task's XState lifecycle alone: a task-machine actor and its runner actor, with
// no orchestrator, 8 at a time. Usage: npm run build && node bench/task-lifecycle.mjs [tasks]
import { createActor, createMachine } from 'xstate';
import { createRunnerLogic } from '../dist/actors/runner.js';
import { taskMachine } from '../dist/machines/task.js';

const count = Number(process.argv[2] ?? 100_000);
const clock = { now: Date.now, setTimeout, clearTimeout };
const env = {
  now: Date.now,
  clock,
  graceMs: 5000,
  report() {},
  inflight: new Set(),
  interrupted: false,
};
const logic = taskMachine.provide({ actors: { runner: createRunnerLogic(env) } });
const node = { id: 't', description: 't', kind: 'task', run: async () => {}, item: undefined };
let next = 0;
let finished = 0;
let resolveAll;
const all = new Promise((resolve) => (resolveAll = resolve));
const parent = createActor(
  createMachine({
    on: {
      '*': {
        actions: () => {
          finished += 1;
          if (next < count) spawn(next++);
          if (finished === count) resolveAll();
        },
      },
    },
  }),
).start();

function spawn(index) {
  const input = {
    index,
    id: 't',
    description: 't',
    node,
    owner: parent,
    now: Date.now,
    startNow: true,
    random: Math.random,
  };
  createActor(logic, { parent, id: `slot-${index % 8}`, input }).start();
}

const started = performance.now();
for (let slot = 0; slot < 8; slot++) spawn(next++);
await all;
const micros = ((performance.now() - started) * 1000) / count;
console.log(JSON.stringify({ tasks: count, microsecondsPerTask: Number(micros.toFixed(2)) }));
