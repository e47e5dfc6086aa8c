/**
 * One measurement in a fresh process: `node --expose-gc bench/worker.mjs '<json>'`.
 * Prints one line `BENCH <json>` with `status` `ok` (and the figures), `unavailable` or
 * `error`. The input graph is built before the clock starts; the clock covers building the
 * contestant's own structures and the whole run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { DIST, ROOT, Unavailable, importDist, load } from './contestants.mjs';
import { lockfileDag, randomDag } from './graphs.mjs';

const print = (result) => process.stdout.write(`BENCH ${JSON.stringify(result)}\n`);

/**
 * The task every contestant runs. It counts calls and completions (a scheduler must not
 * resolve before its tasks have) and samples the heap now and then.
 */
function makeTask(kind, sample) {
  const counter = { calls: 0, settled: 0 };
  const tick = () => {
    counter.calls += 1;
    // A run of no-op tasks may never yield to the timer phase, so the interval alone could
    // miss the peak; sampling here costs the same for every contestant.
    if ((counter.calls & 1023) === 0) sample();
  };
  if (kind === 'timer') {
    counter.task = () => {
      tick();
      return new Promise((resolve) => {
        setTimeout(() => {
          counter.settled += 1;
          resolve();
        }, 1);
      });
    };
  } else {
    counter.task = async () => {
      tick();
      counter.settled += 1;
    };
  }
  return counter;
}

async function sinkHooks(dir) {
  const { createEventLog } = await importDist('io/event-log.js');
  const { createLogFiles } = await importDist('io/log-files.js');
  if (typeof createEventLog !== 'function' || typeof createLogFiles !== 'function') {
    throw new Unavailable('dist/io does not export createEventLog and createLogFiles yet.');
  }
  // Created inside the timed region: opening the sinks is part of their cost.
  return () => {
    const hooks = { events: 0 };
    const events = createEventLog(path.join(dir, 'events.jsonl'));
    const logs = createLogFiles(path.join(dir, 'logs'));
    hooks.started = (run) =>
      run.on('*', (event) => {
        hooks.events += 1;
        events.handle(event);
        logs.handle(event);
      });
    hooks.finished = () => Promise.all([events.close(), logs.close()]);
    return hooks;
  };
}

async function measureGraph(args, tmp) {
  const tasks = args.workload === 'lockfile' ? lockfileDag() : randomDag(args.size, args.seed);
  const contestant = await load(args.contestant);
  let makeHooks = () => ({});
  if (args.workload === 'sinks') {
    const withSinks = await sinkHooks(tmp);
    if (args.sinks) makeHooks = withSinks;
  }

  let peak = 0;
  const sample = () => {
    const used = process.memoryUsage().heapUsed;
    if (used > peak) peak = used;
  };
  const counter = makeTask(args.kind, sample);

  globalThis.gc();
  const baseline = process.memoryUsage().heapUsed;
  const sampler = setInterval(sample, 5).unref();
  const started = performance.now();
  const hooks = makeHooks();
  await contestant.run(tasks, counter.task, args.maxParallel, hooks);
  const ms = performance.now() - started;
  const settled = counter.settled;
  sample();
  clearInterval(sampler);

  const [name, total] = [args.contestant, tasks.length];
  if (counter.calls !== total) {
    throw new Error(`${name} called the task function ${counter.calls} times; expected ${total}.`);
  }
  if (settled !== total) {
    throw new Error(`${name} resolved with ${settled} of ${total} tasks complete; expected all.`);
  }
  // At least a start and an end per task, or the sinks measured nothing.
  if (args.sinks && hooks.events < 2 * total) {
    const seen = `${hooks.events} events for ${total} tasks`;
    throw new Error(`The sinks saw ${seen}; expected at least ${2 * total}.`);
  }
  const heapBytes = Math.max(0, peak - baseline);
  return { ms, tasks: tasks.length, heapBytes, heapBaseline: baseline, events: hooks.events };
}

/** Runs a command to completion within the measurement's time limit; fails on a non-zero exit. */
function runCommand(command, argv, options, timeoutMs) {
  const started = performance.now();
  const limits = { timeout: timeoutMs, killSignal: 'SIGKILL' };
  const result = spawnSync(command, argv, { ...options, ...limits });
  const ms = performance.now() - started;
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const stderr = String(result.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-5)
      .join('\n');
    const exit = result.status ?? result.signal;
    throw new Error(`${command} ${argv.join(' ')} exited ${exit}: ${stderr}`);
  }
  return { ms, stdout: String(result.stdout ?? '') };
}

function measureShell(args, tmp) {
  const ids = Array.from({ length: args.size }, (_, i) => `t${i}`);
  const limit = String(args.maxParallel);
  const timeoutMs = args.timeoutMs;

  if (args.contestant === 'xargs') {
    const lines = path.join(tmp, 'commands.txt');
    fs.writeFileSync(lines, 'true\n'.repeat(args.size));
    const xargs = (file, stdout) => {
      const fd = fs.openSync(file, 'r');
      try {
        const options = { stdio: [fd, stdout, 'pipe'], encoding: 'utf8' };
        return runCommand('xargs', ['-P', limit, '-I', '{}', 'sh', '-c', '{}'], options, timeoutMs);
      } finally {
        fs.closeSync(fd);
      }
    };
    const { ms } = xargs(lines, 'ignore');
    if (args.verify) {
      const echo = path.join(tmp, 'echo.txt');
      fs.writeFileSync(echo, 'echo ran\n'.repeat(args.size));
      const ran = xargs(echo, 'pipe')
        .stdout.split('\n')
        .filter((line) => line === 'ran').length;
      if (ran !== args.size) throw new Error(`xargs ran ${ran} commands; expected ${args.size}.`);
    }
    return { ms, tasks: args.size };
  }

  const cli = path.join(DIST, 'cli', 'main.js');
  if (!fs.existsSync(cli)) {
    throw new Unavailable(`${cli} does not exist; run \`npm run build\` first.`);
  }
  const file = path.join(tmp, 'workflow.yaml');
  const yaml = ids.map((id) => `  ${id}: { run: "true" }\n`).join('');
  fs.writeFileSync(file, `tasks:\n${yaml}`);
  const argv = [cli, 'run', file, '--max-parallel', limit, '--quiet'];
  const options = { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] };
  const { ms } = runCommand(process.execPath, argv, options, timeoutMs);
  if (args.verify) {
    const events = path.join(tmp, 'events.jsonl');
    runCommand(process.execPath, [...argv, '--events', events], options, timeoutMs);
    const done = fs
      .readFileSync(events, 'utf8')
      .split('\n')
      .filter((line) => {
        return line.trim() !== '' && JSON.parse(line).type === 'task.done';
      }).length;
    if (done !== args.size) {
      throw new Error(`The CLI logged ${done} task.done events; expected ${args.size}.`);
    }
  }
  return { ms, tasks: args.size };
}

async function main() {
  const args = JSON.parse(process.argv[2] ?? '{}');
  if (typeof globalThis.gc !== 'function') throw new Error('Run the worker with node --expose-gc.');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-bench-'));
  try {
    const shell = args.workload === 'shell';
    const figures = shell ? measureShell(args, tmp) : await measureGraph(args, tmp);
    print({ status: 'ok', ...figures });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

process.chdir(ROOT);
main().catch((err) => {
  if (err instanceof Unavailable) print({ status: 'unavailable', reason: err.message });
  else print({ status: 'error', reason: err?.stack ?? String(err) });
  process.exitCode = 1;
});
