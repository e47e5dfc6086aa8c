/** Renders a benchmark report as plain-text tables. */

const pad = (rows) => {
  const width = (column) => Math.max(...rows.map((row) => String(row[column]).length));
  const widths = rows[0].map((_, column) => width(column));
  return rows.map((row) => row.map((cell, i) => String(cell).padStart(widths[i])).join('  '));
};

const fixed = (value, digits) => (value == null ? '–' : value.toFixed(digits));
const range = (stats, digits) =>
  stats ? `${fixed(stats.min, digits)}–${fixed(stats.max, digits)}` : '–';
const limit = (maxParallel) => (maxParallel ? String(maxParallel) : '∞');

function timeColumns(result, floor) {
  if (result.status !== 'ok' || !result.ms) {
    return [result.status, '', '', '', '', floor === undefined ? undefined : ''];
  }
  const mb = result.heapBytes ? fixed(result.heapBytes.median / 1048576, 1) : '–';
  const perTask = result.heapBytesPerTask ? fixed(result.heapBytesPerTask.median, 0) : '–';
  const versus = floor?.ms ? `${fixed(result.ms.median / floor.ms.median, 2)}×` : '–';
  return [
    fixed(result.ms.median, 1),
    range(result.ms, 1),
    fixed(result.usPerTask.median, 2),
    mb,
    perTask,
    floor === undefined ? undefined : versus,
  ];
}

function section(out, title, header, rows) {
  out.write(`\n${title}\n`);
  const lines = pad([header, ...rows.map((row) => row.filter((cell) => cell !== undefined))]);
  out.write(`${lines[0]}\n${'-'.repeat(lines[0].length)}\n${lines.slice(1).join('\n')}\n`);
}

const TIME = ['median ms', 'min–max ms', 'µs/task', 'heap MB', 'heap B/task'];

export function printTable(report, out) {
  const { results, graphs, machine, options } = report;
  const floorOf = (r) =>
    results.find(
      (f) =>
        f.label === 'floor' &&
        f.workload === r.workload &&
        f.size === r.size &&
        f.maxParallel === r.maxParallel &&
        f.kind === r.kind,
    );
  // One line per distinct reason, naming the measurements it held back.
  const notes = new Map();
  const note = (r) => {
    if (!r.reason) return;
    const key = `${r.status}: ${r.reason.split('\n')[0]}`;
    const who = `${r.workload}/${r.label}`;
    const list = notes.get(key) ?? [];
    if (!list.includes(who)) list.push(who);
    notes.set(key, list);
  };

  const dag = results.filter((r) => r.workload === 'dag');
  section(
    out,
    `Random DAG, no-op async tasks (seed ${options.seed}; ${options.rounds} round(s))`,
    ['tasks', 'max', 'contestant', ...TIME, 'vs floor'],
    dag.map((r) => [r.size, limit(r.maxParallel), r.label, ...timeColumns(r, floorOf(r))]),
  );
  const lock = results.filter((r) => r.workload === 'lockfile');
  section(
    out,
    `npm lockfile graph: ${graphs.lockfile.packages} packages, ${graphs.lockfile.edges} edges`,
    ['task', 'max', 'contestant', ...TIME, 'vs floor'],
    lock.map((r) => [
      r.kind === 'timer' ? '1 ms' : 'no-op',
      limit(r.maxParallel),
      r.label,
      ...timeColumns(r, floorOf(r)),
    ]),
  );
  const shell = results.filter((r) => r.workload === 'shell');
  section(
    out,
    'Shell tasks: `true` per task, wall clock of the whole command',
    ['tasks', 'max', 'command', 'median ms', 'min–max ms', 'ms/task'],
    shell.map((r) => {
      const command = r.label === 'cli' ? 'taskchart run --quiet' : 'xargs -P sh -c';
      if (!r.ms) return [r.size, limit(r.maxParallel), command, r.status, '', ''];
      const perTask = fixed(r.ms.median / r.size, 2);
      const times = [fixed(r.ms.median, 1), range(r.ms, 1), perTask];
      return [r.size, limit(r.maxParallel), command, ...times];
    }),
  );
  const sinks = results.filter((r) => r.workload === 'sinks');
  section(
    out,
    'Event sinks: taskchart, random DAG, event log + log files on vs off',
    ['tasks', 'sinks', ...TIME],
    sinks.map((r) => [r.size, r.label, ...timeColumns(r).slice(0, 5)]),
  );
  results.forEach(note);

  out.write('\nRatios (medians)\n');
  for (const [name, value] of Object.entries(report.ratios)) {
    out.write(`  ${name.padEnd(20)} ${value === null ? 'n/a' : value.toFixed(2)}\n`);
  }
  const heap = report.heapBytesPerTask100k;
  out.write(`  ${'heapBytesPerTask100k'.padEnd(20)} ${heap === null ? 'n/a' : heap.toFixed(0)}\n`);
  const { large, medium } = report.ratioSizes;
  out.write(`  (large = ${large} tasks, medium = ${medium} tasks, unlimited)\n`);
  if (notes.size) out.write('\nNotes\n');
  for (const [reason, who] of notes) out.write(`  ${who.join(', ')}: ${reason}\n`);
  out.write(
    `\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${report.date}, ` +
      `${report.seconds.toFixed(0)} s\n`,
  );
}
