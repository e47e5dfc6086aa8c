import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRun, runSpecArb, type Checked } from './property-model.js';

/** What the runs of a property went through, so a property that checks nothing fails. */
function tally() {
  const seen = { runs: 0, instances: 0, failed: 0, interrupted: 0, groups: 0, atLimit: 0 };
  const reasons = new Set<string>();
  const add = ({ events, result }: Checked): void => {
    seen.runs += 1;
    for (const event of events) {
      if (event.type === 'task.added') seen.instances += 1;
      if (event.type === 'task.failed') seen.failed += 1;
      if (event.type === 'interrupt') seen.interrupted += 1;
      if (event.type === 'task.started' && event.id.includes('/')) seen.groups += 1;
      if (event.type === 'task.cancelled') reasons.add(event.reason);
    }
    if (result.status === 'cancelled') reasons.add('run cancelled');
  };
  return { seen, reasons, add };
}

const property = (record: (checked: Checked) => void) =>
  fc.asyncProperty(runSpecArb, async (spec) => {
    record(await checkRun(spec));
  });

describe('random workflows on a fake clock', () => {
  it('follow the scheduling rules (seed 42)', async () => {
    const { seen, reasons, add } = tally();
    await fc.assert(property(add), { seed: 42, numRuns: 150 });

    expect(seen.runs).toBeGreaterThanOrEqual(150);
    expect(seen.instances).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(0);
    expect(seen.interrupted).toBeGreaterThan(0);
    expect(seen.groups).toBeGreaterThan(0);
    expect([...reasons].sort()).toEqual([
      'fail-fast',
      'interrupted',
      'parent',
      'prerequisite',
      'run cancelled',
    ]);
  }, 60_000);

  const seed = Date.now() % 2 ** 31;
  it(`follow the scheduling rules (fresh seed ${seed})`, async () => {
    const { add } = tally();
    await fc.assert(property(add), { seed, numRuns: 300 });
  }, 60_000);
});
