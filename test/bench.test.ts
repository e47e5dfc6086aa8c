import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('the benchmark', () => {
  it('runs every workload in quick mode and reports every ratio as JSON', () => {
    const result = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
    });

    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as {
      ratios: Record<string, number>;
      heapBytesPerTask100k: number;
      machine: { cores: number; node: string };
    };
    for (const key of ['pgraph100k', 'floor100k', 'scaling', 'xargs', 'sinks']) {
      expect(report.ratios[key]).toBeGreaterThan(0);
    }
    expect(report.heapBytesPerTask100k).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
  }, 180_000);
});
