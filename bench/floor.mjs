/**
 * The floor: the least a dependency scheduler has to do. Kahn's algorithm over a ready queue,
 * with an optional limit on how many tasks run at once, and nothing else (no events, no
 * states, no cancellation). Whatever a real engine costs above this is its overhead.
 *
 * @example
 * await runFloor([{ id: 'a', needs: [] }, { id: 'b', needs: ['a'] }], async (id) => {}, 8);
 */
export async function runFloor(tasks, run, maxParallel = 0) {
  const limit = maxParallel > 0 ? maxParallel : Infinity;
  const index = new Map();
  tasks.forEach((task, i) => index.set(task.id, i));

  const waitingOn = new Int32Array(tasks.length);
  const dependents = tasks.map(() => []);
  tasks.forEach((task, i) => {
    for (const need of task.needs) {
      const j = index.get(need);
      if (j === undefined) throw new Error(`Task ${task.id} needs unknown task ${need}.`);
      waitingOn[i] += 1;
      dependents[j].push(i);
    }
  });

  // The queue only grows; `head` marks the next task to start.
  const ready = [];
  for (let i = 0; i < tasks.length; i += 1) if (waitingOn[i] === 0) ready.push(i);
  let head = 0;
  let running = 0;
  let finished = 0;

  return new Promise((resolve, reject) => {
    const finish = (i) => {
      running -= 1;
      finished += 1;
      for (const j of dependents[i]) {
        waitingOn[j] -= 1;
        if (waitingOn[j] === 0) ready.push(j);
      }
      pump();
    };

    const pump = () => {
      while (running < limit && head < ready.length) {
        const i = ready[head];
        head += 1;
        running += 1;
        // A synchronous throw from the runner becomes a rejection like any other failure.
        new Promise((done) => done(run(tasks[i].id))).then(() => finish(i), reject);
      }
      if (running > 0) return;
      if (finished === tasks.length) resolve();
      else reject(new Error(`${tasks.length - finished} tasks never became ready: a cycle.`));
    };

    pump();
  });
}
