// Live heap per task: what a run holds after a forced GC, at the start, mid-run and at the end.
// Usage: npm run build && node --expose-gc bench/live-heap.mjs [tasks]
import { createWorkflow } from '../dist/index.js';

if (typeof globalThis.gc !== 'function') {
  console.error('live-heap: run with node --expose-gc');
  process.exit(2);
}
const count = Number(process.argv[2] ?? 100_000);
const noop = async () => {};
const tasks = Array.from({ length: count }, (_, index) => ({
  id: `t${index}`,
  needs: index > 0 ? [`t${Math.floor(index / 2)}`] : [],
  run: noop,
}));
const live = () => {
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

const before = live();
const workflow = createWorkflow({ tasks, maxParallel: 8 });
const compiled = live();
const run = workflow.run();
let done = 0;
let peak = 0;
run.on('task.done', () => {
  done += 1;
  if (done % Math.max(1, Math.floor(count / 5)) === 0) peak = Math.max(peak, live());
});
const result = await run.result;
const after = live();
const perTask = (bytes) => Math.round((bytes - before) / count);
console.log(
  JSON.stringify({
    tasks: count,
    status: result.status,
    compiledBytesPerTask: perTask(compiled),
    liveMidRunBytesPerTask: perTask(peak),
    afterRunBytesPerTask: perTask(after),
  }),
);
