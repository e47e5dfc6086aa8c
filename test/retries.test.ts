import { describe, expect, it } from 'vitest';
import {
  createWorkflow,
  WorkflowValidationError,
  type Clock,
  type TaskchartEvent,
  type TaskDefinition,
} from '../src/index.js';
import { record, trace } from './helpers.js';

/** A clock whose time moves only when the test says so. */
function manualClock() {
  let time = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock = {
    now: () => time,
    setTimeout: (fn, ms) => {
      const id = ++nextId;
      timers.set(id, { at: time + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
  };
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** Fires timers due within `ms`, earliest first, letting promises settle between them. */
  const advance = async (ms: number): Promise<void> => {
    const until = time + ms;
    await settle();
    for (;;) {
      const due = [...timers.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      time = due[1].at;
      due[1].fn();
      await settle();
    }
    time = until;
    await settle();
  };
  return { clock, advance, pending: () => timers.size };
}

/** A runner that rejects on abort and otherwise never settles. */
const hang: TaskDefinition['run'] = ({ signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

const retryEvents = (events: TaskchartEvent[]) =>
  events.flatMap((e) =>
    e.type === 'task.retrying' ? [`${e.id} #${e.attempt} ${e.error.message} +${e.delayMs}`] : [],
  );

describe('retries', () => {
  it('runs again with exponential backoff and starts dependents only after the successful attempt', async () => {
    const { clock, advance } = manualClock();
    let calls = 0;
    const run = createWorkflow({
      tasks: [
        {
          id: 'flaky',
          retries: 3,
          retryDelay: 1000,
          retryBackoff: 2,
          run: () => {
            calls += 1;
            if (calls < 3) throw new Error(`attempt ${calls} broke`);
          },
        },
        { id: 'next', needs: ['flaky'], run: () => {} },
      ],
    }).run({ clock });
    const events = record(run);

    await advance(0);
    expect(retryEvents(events)).toEqual(['flaky #1 attempt 1 broke +1000']);
    expect(run.status('next')?.status).toBe('scheduled');
    await advance(999);
    expect(calls).toBe(1);
    await advance(1);
    expect(calls).toBe(2);
    expect(retryEvents(events)).toEqual([
      'flaky #1 attempt 1 broke +1000',
      'flaky #2 attempt 2 broke +2000',
    ]);
    await advance(2000);
    const result = await run.result;

    expect(calls).toBe(3);
    expect(trace(events)).toEqual([
      'run started',
      'started flaky',
      'done flaky',
      'started next',
      'done next',
      'run done',
    ]);
    expect(result.tasks.flaky).toMatchObject({
      status: 'done',
      attempts: 3,
      startedAt: 0,
      completedAt: 3000,
    });
  });

  it('fails after the last attempt and cancels dependents; the wait never passes retryMaxDelay', async () => {
    const { clock, advance } = manualClock();
    let calls = 0;
    const run = createWorkflow({
      tasks: [
        {
          id: 'broken',
          retries: 3,
          retryDelay: 1000,
          retryBackoff: 10,
          retryMaxDelay: 5000,
          run: async () => {
            calls += 1;
            throw new Error('still broken');
          },
        },
        { id: 'next', needs: ['broken'], run: () => {} },
      ],
    }).run({ clock });
    const events = record(run);
    await advance(60_000);
    const result = await run.result;

    expect(calls).toBe(4);
    expect(retryEvents(events)).toEqual([
      'broken #1 still broken +1000',
      'broken #2 still broken +5000',
      'broken #3 still broken +5000',
    ]);
    expect(result.tasks.broken).toMatchObject({
      status: 'failed',
      attempts: 4,
      error: { message: 'still broken' },
    });
    expect(result.tasks.next).toMatchObject({
      status: 'cancelled',
      reason: 'prerequisite',
      prerequisite: 'broken',
    });
  });

  it('keeps each jittered wait between (1 - jitter) and 1 times the backoff delay', async () => {
    const { clock, advance } = manualClock();
    const run = createWorkflow({
      tasks: [
        {
          id: 'j',
          retries: 5,
          retryDelay: 1000,
          retryJitter: 0.5,
          run: () => Promise.reject(new Error('no')),
        },
      ],
    }).run({ clock });
    const events = record(run);
    await advance(1_000_000);
    await run.result;

    const waits = events.flatMap((e) => (e.type === 'task.retrying' ? [e.delayMs] : []));
    expect(waits).toHaveLength(5);
    waits.forEach((wait, index) => {
      const base = 1000 * 2 ** index;
      expect(wait).toBeGreaterThanOrEqual(base * 0.5);
      expect(wait).toBeLessThanOrEqual(base);
    });
  });

  it('is cancelled, not retried, when the run is interrupted during the wait', async () => {
    const { clock, advance } = manualClock();
    let calls = 0;
    const run = createWorkflow({
      tasks: [
        {
          id: 'r',
          retries: 2,
          retryDelay: 1000,
          run: () => Promise.reject(new Error(`no ${++calls}`)),
        },
      ],
    }).run({ clock });
    await advance(10);
    // Regression: the count once included the attempt the wait was for, which never ran.
    expect(run.status('r')).toMatchObject({ status: 'running', attempts: 1 });
    run.cancel();
    await advance(5000);
    const result = await run.result;
    expect(calls).toBe(1);
    expect(result.status).toBe('cancelled');
    expect(result.tasks.r).toMatchObject({
      status: 'cancelled',
      reason: 'interrupted',
      attempts: 1,
    });
  });
});

describe('timeouts', () => {
  it('aborts an attempt that runs too long and fails it with reason timeout and the elapsed time', async () => {
    const { clock, advance } = manualClock();
    let aborted = false;
    const run = createWorkflow({
      tasks: [
        {
          id: 'slow',
          timeout: 30_000,
          run: (ctx) => {
            ctx.signal.addEventListener('abort', () => (aborted = true));
            return hang(ctx);
          },
        },
        { id: 'after', needs: ['slow'], run: () => {} },
      ],
    }).run({ clock });
    await advance(29_999);
    expect(aborted).toBe(false);
    await advance(1);
    const result = await run.result;

    expect(aborted).toBe(true);
    expect(result.tasks.slow).toMatchObject({
      status: 'failed',
      error: { reason: 'timeout', elapsedMs: 30_000, message: 'timed out after 30s' },
    });
    expect(result.tasks.after).toMatchObject({
      status: 'cancelled',
      reason: 'prerequisite',
      prerequisite: 'slow',
    });
  });

  it('gives up on a runner that ignores the abort after the grace period', async () => {
    const { clock, advance } = manualClock();
    const run = createWorkflow({
      tasks: [{ id: 'deaf', timeout: 100, run: () => new Promise(() => {}) }],
    }).run({
      clock,
      graceMs: 500,
    });
    await advance(100);
    expect(run.status('deaf')?.status).toBe('running');
    await advance(1500);
    const result = await run.result;
    expect(result.tasks.deaf).toMatchObject({
      status: 'failed',
      error: { reason: 'timeout', elapsedMs: 100 },
    });
  });

  it('retries an attempt that timed out', async () => {
    const { clock, advance } = manualClock();
    let calls = 0;
    const run = createWorkflow({
      tasks: [
        {
          id: 'sometimes',
          timeout: 100,
          retries: 1,
          retryDelay: 10,
          run: (ctx) => (++calls === 1 ? hang(ctx) : undefined),
        },
      ],
    }).run({ clock });
    const events = record(run);
    await advance(1000);
    const result = await run.result;
    expect(retryEvents(events)).toEqual(['sometimes #1 timed out after 100ms +10']);
    expect(result.tasks.sometimes).toMatchObject({ status: 'done', attempts: 2 });
  });
});

describe('validation of timeouts and retries', () => {
  it('reports bad values, each naming the field', () => {
    const run = () => {};
    let caught: unknown;
    try {
      createWorkflow({
        tasks: [
          { id: 'a', run, retries: -1 },
          { id: 'b', run, retries: 1.5, retryBackoff: 0.5 },
          { id: 'c', run, timeout: 0, retryJitter: 2 },
          { id: 'g', retries: 2, tasks: [{ id: 'x', run }] },
        ],
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(WorkflowValidationError);
    const fields = (caught as WorkflowValidationError).issues.map((issue) => issue.field);
    expect(fields).toEqual([
      'a.retries',
      'b.retries',
      'b.retryBackoff',
      'c.timeout',
      'c.retryJitter',
      'g.retries',
    ]);
  });
});
