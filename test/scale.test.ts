import { describe, expect, it } from 'vitest';
import { createWorkflow, type TaskDefinition } from '../src/index.js';
import { deferred, record, starts } from './helpers.js';

describe('many ready tasks', () => {
  it('starts every ready task when more are ready than one step starts, in declaration order', async () => {
    const count = 1500;
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const tasks: TaskDefinition[] = Array.from({ length: count }, (_, index) => ({
      id: `t${index}`,
      run: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await gate.promise;
        running -= 1;
      },
    }));
    const run = createWorkflow({ tasks }).run();
    const events = record(run);
    let started = 0;
    const allStarted = new Promise<void>((resolve) => {
      run.on('task.started', () => {
        started += 1;
        if (started === count) resolve();
      });
    });

    await allStarted;
    expect(peak).toBe(count);
    gate.resolve();
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(starts(events)).toEqual(tasks.map((task) => task.id));
  });
});

describe('a wide graph of quick tasks', () => {
  it('keeps at most 512 runners in flight with no limit, and still runs every task', async () => {
    const count = 5000;
    let inFlight = 0;
    let peak = 0;
    const tasks: TaskDefinition[] = Array.from({ length: count }, (_, index) => ({
      id: `t${index}`,
      // Independent of t0 except the first: everything is ready at once after it.
      needs: index === 0 ? [] : ['t0'],
      run: async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await null;
        inFlight -= 1;
      },
    }));
    const result = await createWorkflow({ tasks }).run().result;

    expect(result.status).toBe('done');
    expect(Object.values(result.tasks).filter((task) => task.status === 'done')).toHaveLength(
      count,
    );
    expect(peak).toBeLessThanOrEqual(512);
    expect(peak).toBeGreaterThan(1);
  });
});
