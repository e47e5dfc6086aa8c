// Why every XState actor costs more than its work on Node 20: XState's Actor constructor merges
// its options as `{ ...defaultOptions, ...options }`. On this V8 (11.3), an object spread that
// adds keys the first source lacks gets a hidden class of its own, every time, in old space; the
// garbage it pins survives young collections. This script builds the same merged object both
// ways, a million times each, and prints the cost per object and the heap the run reached.
// Usage: node bench/spread-maps.mjs [spread|assign|same-keys]
const defaults = {
  clock: { setTimeout, clearTimeout },
  logger: console.log.bind(console),
  dev: false,
};
const parent = { id: 'parent' };

const merges = {
  // What `createActor(logic, { parent, id, input })` does inside XState.
  spread: (options) => ({ ...defaults, ...options }),
  // The same object built with Object.assign: one shared hidden class per shape.
  assign: (options) => Object.assign({}, defaults, options),
};

const how = process.argv[2] ?? 'spread';
const count = 1_000_000;
let peak = 0;
let kept = 0;
const started = performance.now();
for (let i = 0; i < count; i++) {
  const options =
    how === 'same-keys' ? { dev: i % 2 === 0 } : { parent, id: `slot-${i % 8}`, input: i };
  const merged = (how === 'assign' ? merges.assign : merges.spread)(options);
  // Something per object that dies young, as an actor's snapshot and closures do.
  const work = Array.from({ length: 20 }, (_, k) => ({ k, merged }));
  kept += work.length;
  if ((i & 4095) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
}
const micros = ((performance.now() - started) * 1000) / count;
const peakMB = Math.round(peak / 1e6);
console.log(
  JSON.stringify({ how, objects: count, microsecondsEach: +micros.toFixed(3), peakMB, kept }),
);
