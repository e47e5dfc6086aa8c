/**
 * `npm run bench`: every measurement in a fresh `node --expose-gc bench/worker.mjs` process,
 * contestants alternated within each round, medians and min–max over the rounds.
 *
 *   node bench/run.mjs [--rounds N] [--quick] [--json] [--timeout SEC] [--budget SEC]
 *
 * `--quick` is a smoke run: small sizes, one round. `--json` prints one JSON object on stdout
 * (the table goes to stderr). A measurement slower than `--timeout` (120 s) is reported as a
 * timeout and not repeated; once `--budget` (540 s) is spent the remaining ones are skipped,
 * so a slow contestant cannot stretch the run much past ten minutes.
 */
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { edgeCount, lockfileDag, randomDag } from './graphs.mjs';
import { printTable } from './table.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const SEED = 20240601;

function parseOptions(argv) {
  const options = { rounds: 5, quick: false, json: false, timeout: 120, budget: 540 };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === '--quick') options.quick = true;
    else if (flag === '--json') options.json = true;
    else if (['--rounds', '--timeout', '--budget'].includes(flag)) {
      const value = Number(argv[i + 1]);
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`${flag} expects a positive integer, got ${argv[i + 1]}; e.g. ${flag} 3.`);
      }
      options[flag.slice(2)] = value;
      i += 1;
    } else {
      const known = '--rounds N, --quick, --json, --timeout SEC, --budget SEC';
      throw new Error(`Unknown option ${flag}; expected one of ${known}.`);
    }
  }
  if (options.quick && !argv.includes('--rounds')) options.rounds = 1;
  return options;
}

/** Measurement groups, cheapest first so a tight budget still covers every workload once. */
function plan(quick, lockfileSize) {
  const graph = ['taskchart', 'p-graph', 'floor'];
  const engine = ['cli', 'xargs'];
  const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const groups = [];
  for (const kind of ['noop', 'timer']) {
    for (const maxParallel of [0, 8]) {
      const size = lockfileSize;
      groups.push({ workload: 'lockfile', size, kind, maxParallel, contestants: graph });
    }
  }
  groups.push({ workload: 'shell', size: quick ? 50 : 500, maxParallel: 8, contestants: engine });
  for (const size of sizes) {
    for (const maxParallel of [0, 8]) {
      groups.push({ workload: 'dag', size, maxParallel, kind: 'noop', contestants: graph });
    }
  }
  const large = sizes.at(-1);
  const sinks = ['off', 'on'];
  groups.push({ workload: 'sinks', size: large, maxParallel: 0, kind: 'noop', contestants: sinks });
  return { groups, sizes };
}

/** The worker arguments of one contestant in one group. */
function cellArgs(group, contestant) {
  const { contestants, ...rest } = group;
  if (group.workload !== 'sinks') return { ...rest, contestant, seed: SEED };
  return { ...rest, contestant: 'taskchart', sinks: contestant === 'on', seed: SEED };
}

function measure(args, timeoutMs) {
  const argv = ['--expose-gc', WORKER, JSON.stringify({ ...args, timeoutMs })];
  const child = spawnSync(process.execPath, argv, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.error?.code === 'ETIMEDOUT') {
    return { status: 'timeout', reason: `no result within ${Math.round(timeoutMs / 1000)} s` };
  }
  const line = child.stdout?.split('\n').find((text) => text.startsWith('BENCH '));
  if (line) return JSON.parse(line.slice('BENCH '.length));
  const stderr = (child.stderr ?? '').trim().split('\n').slice(-5).join('\n');
  return { status: 'error', reason: `worker exited ${child.status ?? child.signal}: ${stderr}` };
}

const stats = (values) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1) };
};

function summarise(cell) {
  const ok = cell.samples.filter((sample) => sample.status === 'ok');
  const tasks = ok[0]?.tasks ?? cell.args.size;
  const { label, status } = cell;
  const summary = { ...cell.args, label, status, rounds: ok.length, tasks };
  delete summary.timeoutMs;
  if (cell.reason) summary.reason = cell.reason;
  if (ok.length === 0) return summary;
  summary.ms = stats(ok.map((s) => s.ms));
  summary.usPerTask = stats(ok.map((s) => (s.ms * 1000) / s.tasks));
  if (ok[0].heapBytes !== undefined) {
    summary.heapBytes = stats(ok.map((s) => s.heapBytes));
    summary.heapBytesPerTask = stats(ok.map((s) => s.heapBytes / s.tasks));
  }
  if (ok[0].events) summary.events = ok[0].events;
  summary.samplesMs = ok.map((s) => s.ms);
  return summary;
}

function runAll(options, lockfileSize) {
  const { groups, sizes } = plan(options.quick, lockfileSize);
  const cells = [];
  for (const group of groups) {
    group.cells = group.contestants.map((label) => {
      const cell = { label, group, args: cellArgs(group, label), samples: [], status: 'pending' };
      cells.push(cell);
      return cell;
    });
  }
  const deadline = Date.now() + options.budget * 1000;
  const total = cells.length * options.rounds;
  let done = 0;

  for (let round = 0; round < options.rounds; round += 1) {
    for (const group of groups) {
      // Rotate the order each round so no contestant always runs first or last.
      const order = group.cells.map((_, i) => group.cells[(i + round) % group.cells.length]);
      for (const cell of order) {
        done += 1;
        if (['timeout', 'unavailable', 'error', 'skipped'].includes(cell.status)) continue;
        const left = deadline - Date.now();
        if (left < 5000) {
          if (cell.status === 'pending') cell.status = 'skipped';
          cell.reason ??= 'time budget spent';
          continue;
        }
        const timeoutMs = Math.min(options.timeout * 1000, left);
        const sample = measure({ ...cell.args, verify: round === 0 }, timeoutMs);
        const ok = sample.status === 'ok';
        cell.samples.push(ok ? sample : { status: sample.status });
        cell.status = sample.status;
        // Keep the first lines: a validation error may list every task.
        if (!ok) cell.reason = brief(sample.reason, 12);
        if (sample.status === 'timeout') skipLarger(cells, cell);
        const failure = `${sample.status}: ${brief(sample.reason, 3)}`;
        const figure = ok ? `${sample.ms.toFixed(1)} ms` : failure;
        const where = `[${done}/${total}] round ${round + 1} ${describe(cell)}`;
        process.stderr.write(`${where}: ${figure}\n`);
      }
    }
  }
  return { cells: cells.map(summarise), sizes };
}

/**
 * A contestant that timed out on a graph would only time out again on one as large or larger
 * with the same limit; skipping those keeps a hanging contestant from eating the budget.
 */
function skipLarger(cells, slow) {
  const { contestant, maxParallel, size, workload } = slow.args;
  for (const cell of cells) {
    if (cell === slow || cell.status !== 'pending' || cell.args.workload === 'shell') continue;
    if (cell.args.contestant !== contestant || cell.args.maxParallel !== maxParallel) continue;
    if (!(cell.args.size >= size)) continue;
    cell.status = 'skipped';
    cell.reason = `timed out on ${workload} with ${size} tasks`;
  }
}

const brief = (text, lines) => {
  const all = String(text).split('\n');
  const more = all.length > lines ? `\n… ${all.length - lines} more lines` : '';
  return all.slice(0, lines).join('\n') + more;
};

function describe(cell) {
  const { workload, size, maxParallel, kind } = cell.args;
  const parts = [workload, cell.label];
  if (size) parts.push(`${size} tasks`);
  parts.push(maxParallel ? `max ${maxParallel}` : 'unlimited');
  if (kind) parts.push(kind);
  return parts.join(' ');
}

function ratios(results, sizes) {
  const find = (workload, label, size, maxParallel = 0) =>
    results.find(
      (r) =>
        r.workload === workload &&
        r.label === label &&
        r.maxParallel === maxParallel &&
        (size === undefined || r.size === size),
    );
  const median = (result) => result?.ms?.median;
  const ratio = (a, b) => (median(a) && median(b) ? median(a) / median(b) : null);
  const [large, medium] = [sizes.at(-1), sizes.at(-2)];
  const tcLarge = find('dag', 'taskchart', large);
  return {
    ratios: {
      pgraph100k: ratio(tcLarge, find('dag', 'p-graph', large)),
      floor100k: ratio(tcLarge, find('dag', 'floor', large)),
      scaling: ratio(tcLarge, find('dag', 'taskchart', medium)),
      xargs: ratio(find('shell', 'cli', undefined, 8), find('shell', 'xargs', undefined, 8)),
      sinks: ratio(find('sinks', 'on'), find('sinks', 'off')),
      pgraphOverFloor100k: ratio(find('dag', 'p-graph', large), find('dag', 'floor', large)),
      pgraphScaling: ratio(find('dag', 'p-graph', large), find('dag', 'p-graph', medium)),
      floorScaling: ratio(find('dag', 'floor', large), find('dag', 'floor', medium)),
    },
    ratioSizes: { large, medium },
    heapBytesPerTask100k: tcLarge?.heapBytesPerTask?.median ?? null,
  };
}

function main() {
  const options = parseOptions(process.argv.slice(2));
  const lockfile = lockfileDag();
  const { sizes } = plan(options.quick, lockfile.length);
  const dagEdges = (size) => [size, { edges: edgeCount(randomDag(size, SEED)) }];
  const graphs = {
    lockfile: { packages: lockfile.length, edges: edgeCount(lockfile), acyclic: true },
    dag: Object.fromEntries(sizes.map(dagEdges)),
  };
  const { packages, edges } = graphs.lockfile;
  process.stderr.write(`lockfile graph: ${packages} packages, ${edges} edges, acyclic\n`);

  const started = Date.now();
  const { cells } = runAll(options, lockfile.length);
  const report = {
    date: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
    },
    options: { ...options, seed: SEED },
    graphs,
    ...ratios(cells, sizes),
    results: cells,
    seconds: (Date.now() - started) / 1000,
  };
  const out = options.json ? process.stderr : process.stdout;
  printTable(report, out);
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exitCode = 2;
}
