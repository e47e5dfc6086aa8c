import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { TaskchartEvent } from '../../src/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/cli/main.js');
const exampleDir = path.join(repoRoot, 'examples/weather');

/** The summary file as the CLI writes it. */
interface SummaryFile {
  status: string;
  tasks: Record<
    string,
    {
      status: string;
      reason?: string;
      prerequisite?: string;
      error?: unknown;
      exitCode?: number;
      startedAt?: number;
      completedAt?: number;
    }
  >;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface MonthSummary {
  precipitation: number;
  tempMax: number;
  tempMin: number;
}

/** Monthly precipitation totals and temperature extremes, keyed `station,year,month`. */
function summariseCsv(text: string): Map<string, MonthSummary> {
  const lines = text.split('\n').filter((line) => line !== '');
  expect(lines[0]).toBe('location,date,precipitation,temp_max,temp_min,wind,weather');

  const months = new Map<string, MonthSummary>();
  for (const line of lines.slice(1)) {
    const [station, date, precipitation, tempMax, tempMin] = line.split(',');
    if (station === undefined || date === undefined) throw new Error(`bad input row: ${line}`);
    const key = `${station},${Number(date.slice(0, 4))},${Number(date.slice(5, 7))}`;
    const rain = Number(precipitation);
    const high = Number(tempMax);
    const low = Number(tempMin);
    const month = months.get(key);
    if (month === undefined) {
      months.set(key, { precipitation: rain, tempMax: high, tempMin: low });
      continue;
    }
    month.precipitation += rain;
    month.tempMax = Math.max(month.tempMax, high);
    month.tempMin = Math.min(month.tempMin, low);
  }
  return months;
}

/** Station-year file names the split step writes, e.g. `New_York-2012.csv`. */
function stationYearFiles(months: Map<string, MonthSummary>): string[] {
  const names = new Set<string>();
  for (const key of months.keys()) {
    const [station = '', year = ''] = key.split(',');
    names.add(`${station.replace(/[^A-Za-z0-9.-]/g, '_')}-${year}.csv`);
  }
  return [...names].sort();
}

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // The run must not pick up outboxes configured in the developer's shell.
  for (const name of ['OUTBOX_A', 'OUTBOX_B']) {
    if (!(name in env)) delete childEnv[name];
  }

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function readEvents(file: string): TaskchartEvent[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TaskchartEvent);
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('weather example through the CLI', () => {
  let tmp = '';
  let work = '';

  beforeAll(() => {
    expect(fs.existsSync(cli), `${cli} is missing; run npm run build first`).toBe(true);
  });

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-weather-'));
    work = path.join(tmp, 'weather');
    // Copy the example without the outputs of an earlier run in the working tree.
    fs.cpSync(exampleDir, work, {
      recursive: true,
      filter: (source) => {
        const relative = path.relative(exampleDir, source);
        return !/^(out|outbox[^/\\]*)([/\\]|$)/.test(relative);
      },
    });
  });

  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function runWorkflow(env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(
      [
        'run',
        path.join(work, 'workflow.yaml'),
        '--summary',
        path.join(tmp, 'summary.json'),
        '--log-dir',
        path.join(tmp, 'logs'),
        '--events',
        path.join(tmp, 'events.jsonl'),
      ],
      env,
    );
  }

  function readSummary(): SummaryFile {
    return JSON.parse(fs.readFileSync(path.join(tmp, 'summary.json'), 'utf8')) as SummaryFile;
  }

  it('builds a report whose numbers match the input CSV and delivers it to both outboxes', async () => {
    const result = await runWorkflow();
    expect(result.code, result.stderr).toBe(0);

    const expected = summariseCsv(fs.readFileSync(path.join(work, 'data/weather.csv'), 'utf8'));
    const reportLines = fs
      .readFileSync(path.join(work, 'out/report.csv'), 'utf8')
      .split('\n')
      .filter((line) => line !== '');
    expect(reportLines[0]).toBe('station,year,month,precipitation_mm,temp_max_c,temp_min_c');

    const rows = reportLines.slice(1).map((line) => {
      const [station = '', year, month, precipitation, tempMax, tempMin] = line.split(',');
      return {
        station,
        year: Number(year),
        month: Number(month),
        precipitation: Number(precipitation),
        tempMax: Number(tempMax),
        tempMin: Number(tempMin),
      };
    });
    expect(rows.map((row) => `${row.station},${row.year},${row.month}`).sort()).toEqual(
      [...expected.keys()].sort(),
    );
    for (const row of rows) {
      const month = expected.get(`${row.station},${row.year},${row.month}`);
      const label = `${row.station} ${row.year}-${row.month}`;
      // Values are printed with one decimal, so each may be off by half a tenth.
      expect(
        Math.abs(row.precipitation - (month?.precipitation ?? NaN)),
        label,
      ).toBeLessThanOrEqual(0.0501);
      expect(Math.abs(row.tempMax - (month?.tempMax ?? NaN)), label).toBeLessThanOrEqual(0.0501);
      expect(Math.abs(row.tempMin - (month?.tempMin ?? NaN)), label).toBeLessThanOrEqual(0.0501);
    }
    const sorted = [...rows].sort(
      (a, b) =>
        (a.station < b.station ? -1 : a.station > b.station ? 1 : 0) ||
        a.year - b.year ||
        a.month - b.month,
    );
    expect(rows).toEqual(sorted);

    const report = fs.readFileSync(path.join(work, 'out/report.csv'));
    const reportText = fs.readFileSync(path.join(work, 'out/report.txt'));
    for (const outbox of ['outbox/a', 'outbox/b']) {
      expect(fs.readFileSync(path.join(work, outbox, 'report.csv')).equals(report)).toBe(true);
      expect(fs.readFileSync(path.join(work, outbox, 'report.txt')).equals(reportText)).toBe(true);
    }

    const summary = readSummary();
    expect(summary.status).toBe('done');
    const fixedIds = [
      'ingest',
      'split',
      'report',
      'deliver',
      'deliver/outbox-a',
      'deliver/check-a',
      'deliver/outbox-b',
      'deliver/check-b',
    ];
    for (const id of fixedIds) expect(summary.tasks[id]?.status, id).toBe('done');

    const instanceIds = Object.keys(summary.tasks).filter((id) => id.startsWith('summarise['));
    const items = instanceIds.map((id) => id.slice('summarise['.length, -1));
    expect(items.map((item) => path.basename(item)).sort()).toEqual(stationYearFiles(expected));
    for (const id of instanceIds) expect(summary.tasks[id]?.status, id).toBe('done');

    // Instances start while the producer is still writing later files.
    const events = readEvents(path.join(tmp, 'events.jsonl'));
    const firstInstanceStart = events.findIndex(
      (event) => event.type === 'task.started' && event.id.startsWith('summarise['),
    );
    const splitDone = events.findIndex(
      (event) => event.type === 'task.done' && event.id === 'split',
    );
    expect(firstInstanceStart).toBeGreaterThanOrEqual(0);
    expect(splitDone).toBeGreaterThanOrEqual(0);
    expect(firstInstanceStart).toBeLessThan(splitDone);

    const ingestLogs = listFiles(path.join(tmp, 'logs'))
      .filter((file) => path.basename(file).includes('ingest'))
      .map((file) => fs.readFileSync(file, 'utf8'));
    expect(ingestLogs.some((text) => /START:/.test(text) && /DONE/.test(text))).toBe(true);
  }, 60_000);

  it('fails outbox-b for a missing OUTBOX_B folder, cancels check-b and still checks outbox A', async () => {
    const missing = path.join(tmp, 'missing', 'outbox');
    const result = await runWorkflow({ OUTBOX_B: missing });
    expect(result.code, result.stderr).toBe(1);
    expect(fs.existsSync(missing)).toBe(false);

    const summary = readSummary();
    expect(summary.status).toBe('failed');
    expect(summary.tasks['deliver']?.status).toBe('failed');
    expect(summary.tasks['deliver/outbox-a']?.status).toBe('done');
    expect(summary.tasks['deliver/check-a']?.status).toBe('done');
    expect(summary.tasks['deliver/outbox-b']?.status).toBe('failed');
    expect(summary.tasks['deliver/check-b']?.status).toBe('cancelled');
    expect(summary.tasks['deliver/check-b']?.reason).toBe('prerequisite');
    expect(summary.tasks['deliver/check-b']?.prerequisite).toMatch(/outbox-b$/);

    const report = fs.readFileSync(path.join(work, 'out/report.csv'));
    expect(fs.readFileSync(path.join(work, 'outbox/a/report.csv')).equals(report)).toBe(true);

    // The delivery script names the missing folder on stderr.
    const events = readEvents(path.join(tmp, 'events.jsonl'));
    const stderrLines = events.flatMap((event) =>
      event.type === 'task.log' && event.id === 'deliver/outbox-b' && event.stream === 'stderr'
        ? [event.line]
        : [],
    );
    expect(stderrLines.join('\n')).toContain(`outbox folder ${missing} does not exist`);
    expect(
      events.some((event) => event.type === 'task.started' && event.id === 'deliver/check-b'),
    ).toBe(false);
  }, 60_000);
});
