import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWorkflow, type TaskDefinition } from '../src/index.js';
import { deferred, record, starts } from './helpers.js';

describe('many ready tasks', () => {
  it('starts every ready task when more are ready than one turn starts, in declaration order', async () => {
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
    const counter = inFlightCounter();
    const tasks: TaskDefinition[] = Array.from({ length: count }, (_, index) => ({
      id: `t${index}`,
      // Independent of t0 except the first: everything is ready at once after it.
      needs: index === 0 ? [] : ['t0'],
      run: counter.quick,
    }));
    const result = await createWorkflow({ tasks }).run().result;

    expect(result.status).toBe('done');
    expect(Object.values(result.tasks).filter((task) => task.status === 'done')).toHaveLength(
      count,
    );
    expect(counter.peak).toBeLessThanOrEqual(512);
    expect(counter.peak).toBeGreaterThan(1);
  });
});

describe('the budget of starts per turn', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is shared by every group of a run', async () => {
    const counter = inFlightCounter();
    const tasks: TaskDefinition[] = Array.from({ length: 20 }, (_, group) => ({
      id: `g${group}`,
      tasks: Array.from({ length: 600 }, (_, index) => ({ id: `c${index}`, run: counter.quick })),
    }));
    const result = await createWorkflow({ tasks }).run().result;

    expect(result.status).toBe('done');
    expect(Object.keys(result.tasks)).toHaveLength(20 * 601);
    expect(counter.peak).toBeLessThanOrEqual(512);
  });

  it('never decides which instances run: all announced before the producer fails still run', async () => {
    const count = 2000;
    const run = createWorkflow({
      tasks: [
        {
          id: 'split',
          run: async ({ produce }) => {
            for (let item = 0; item < count; item++) produce(`item-${item}`);
            await null;
            throw new Error('split broke');
          },
        },
        { id: 'each', forEach: 'split', run: async () => {} },
      ],
    }).run();
    const result = await run.result;
    const instances = Object.values(result.tasks).filter((task) => task.id.startsWith('each['));

    expect(result.status).toBe('failed');
    expect(instances).toHaveLength(count);
    expect(instances.filter((task) => task.status === 'done')).toHaveLength(count);
    expect(result.tasks.each?.status).toBe('cancelled');
  });

  it('yields to the event loop when starting tasks takes long, not only after 512', async () => {
    const order: string[] = [];
    const tasks: TaskDefinition[] = Array.from({ length: 200 }, (_, index) => ({
      id: `t${index}`,
      run: () => {
        order.push(`t${index}`);
        // A task whose synchronous part takes 1 ms, as spawning a process does.
        const until = performance.now() + 1;
        while (performance.now() < until);
      },
    }));
    const run = createWorkflow({ tasks }).run();
    setImmediate(() => order.push('turn'));
    const result = await run.result;

    expect(result.status).toBe('done');
    expect(order.indexOf('turn')).toBeGreaterThan(0);
    expect(order.indexOf('turn')).toBeLessThan(50);
  });

  it('lets sibling groups take turns', async () => {
    const order: string[] = [];
    const group = (name: string): TaskDefinition => ({
      id: name,
      tasks: Array.from({ length: 3000 }, (_, index) => ({
        id: `c${index}`,
        run: async () => {
          order.push(name);
          await null;
        },
      })),
    });
    const result = await createWorkflow({ tasks: [group('a'), group('b')] }).run().result;

    expect(result.status).toBe('done');
    // Without turns, b would start only after all 3,000 of a.
    expect(order.indexOf('b')).toBeLessThan(1100);
    expect(order.lastIndexOf('a')).toBeGreaterThan(order.indexOf('b'));
  });

  it('keeps the budget when a producer fails while other tasks wait their turn', async () => {
    const counter = inFlightCounter();
    const others: TaskDefinition[] = Array.from({ length: 5000 }, (_, index) => ({
      id: `t${index}`,
      needs: ['gate'],
      run: counter.quick,
    }));
    const result = await createWorkflow({
      tasks: [
        { id: 'gate', run: () => {} },
        {
          id: 'split',
          needs: ['gate'],
          run: ({ produce }) => {
            produce('x');
            throw new Error('split broke');
          },
        },
        { id: 'each', forEach: 'split', run: () => {} },
        ...others,
      ],
    }).run().result;

    expect(result.status).toBe('failed');
    expect(result.tasks['each[x]']?.status).toBe('done');
    expect(counter.peak).toBeLessThanOrEqual(512);
  });

  it('holds the loop for one chunk of slow starts at most, even after quick ones', async () => {
    const order: string[] = [];
    let running = true;
    const tick = (): void => {
      order.push('turn');
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const quick: TaskDefinition[] = Array.from({ length: 2000 }, (_, index) => ({
      id: `q${index}`,
      run: () => {},
    }));
    const slow: TaskDefinition[] = Array.from({ length: 150 }, (_, index) => ({
      id: `s${index}`,
      needs: [`q${1999 - (index % 10)}`],
      run: () => {
        order.push('slow');
        // A synchronous part of 1 ms, as spawning a process has.
        const until = performance.now() + 1;
        while (performance.now() < until);
      },
    }));
    const result = await createWorkflow({ tasks: [...quick, ...slow] }).run().result;
    running = false;

    expect(result.status).toBe('done');
    let most = 0;
    let inTurn = 0;
    for (const entry of order) {
      inTurn = entry === 'turn' ? 0 : inTurn + 1;
      most = Math.max(most, inTurn);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(32);
  });

  it('still moves on when a test fakes setImmediate', async () => {
    vi.useFakeTimers();
    const tasks: TaskDefinition[] = Array.from({ length: 1200 }, (_, index) => ({
      id: `t${index}`,
      needs: index === 0 ? [] : [`t${index - 1}`],
      run: () => {},
    }));
    const result = await createWorkflow({ tasks }).run().result;

    expect(result.status).toBe('done');
    expect(Object.values(result.tasks).every((task) => task.status === 'done')).toBe(true);
  });
});

/** A quick task that counts how many of its kind are in flight, and the most there were. */
function inFlightCounter(): { quick: () => Promise<void>; peak: number } {
  let inFlight = 0;
  const counter = {
    peak: 0,
    quick: async (): Promise<void> => {
      inFlight += 1;
      counter.peak = Math.max(counter.peak, inFlight);
      await null;
      inFlight -= 1;
    },
  };
  return counter;
}
