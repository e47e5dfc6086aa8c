import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Writes text to many files in order, off the main thread. */
export interface FileWriter {
  /** Queues `text` for `file`: replacing its content when `replace`, else appending. */
  write(file: string, text: string, replace: boolean): void;
  /** Writes everything queued, then stops; rejects with the first write error. */
  close(): Promise<void>;
}

/** Characters queued before a batch goes to the worker. */
const BATCH_CHARS = 256 * 1024;
/** Characters the worker may be behind before `write` waits for it, so memory stays bounded. */
const BEHIND_LIMIT = 32 * 1024 * 1024;
/** How long the writer may make no progress before it is given up on. */
const STALL_MS = 30_000;

// The worker's code, evaluated as a script: it needs no file of its own next to the sources.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const behind = new Int32Array(workerData.shared);
let failure;
parentPort.on('message', (message) => {
  if (message.close) {
    parentPort.postMessage({ closed: true, failure });
    return;
  }
  for (const [file, text, replace] of message.entries) {
    try {
      fs.writeFileSync(file, text, { flag: replace ? 'w' : 'a' });
    } catch (error) {
      if (failure === undefined) failure = String((error && error.message) || error);
    }
  }
  Atomics.sub(behind, 0, message.chars);
  Atomics.notify(behind, 0);
});
`;

type Entry = [file: string, text: string, replace: boolean];

/**
 * Creates a writer whose file system calls run in a worker thread, so that creating thousands of
 * small files (one log per task) never stalls the engine. Writes to one file keep their order.
 * Where no worker can be started, it writes synchronously instead.
 */
export function createFileWriter(): FileWriter {
  const shared = new SharedArrayBuffer(4);
  const behind = new Int32Array(shared);
  let worker: Worker | undefined;
  let lost: string | undefined;
  try {
    worker = new Worker(WORKER_CODE, { eval: true, workerData: { shared } });
    worker.unref();
    worker.on('error', (error) => {
      // The thread died: what it held is lost, say so at close, and write the rest here.
      lost ??= `the log writer stopped: ${error.message}`;
      worker = undefined;
      Atomics.store(behind, 0, 0);
    });
  } catch {
    worker = undefined;
  }
  let batch: Entry[] = [];
  let chars = 0;
  let scheduled = false;

  const send = (): void => {
    scheduled = false;
    if (batch.length === 0) return;
    if (!worker) {
      for (const [file, text, replace] of batch)
        fs.writeFileSync(file, text, { flag: replace ? 'w' : 'a' });
    } else {
      Atomics.add(behind, 0, chars);
      worker.postMessage({ entries: batch, chars });
    }
    batch = [];
    chars = 0;
  };

  const waitForWorker = (): void => {
    // Errors of a dead thread cannot arrive while this loop blocks; a writer that makes no
    // progress for STALL_MS is taken for dead and its work for lost.
    let progressAt = Date.now();
    let last = Atomics.load(behind, 0);
    while (worker && last > BEHIND_LIMIT) {
      Atomics.wait(behind, 0, last, 100);
      const now = Atomics.load(behind, 0);
      if (now < last) progressAt = Date.now();
      else if (Date.now() - progressAt > STALL_MS) {
        lost ??= 'the log writer made no progress for 30s; some log lines were not written';
        void worker.terminate();
        worker = undefined;
      }
      last = now;
    }
  };

  return {
    write(file, text, replace) {
      batch.push([file, text, replace]);
      chars += text.length;
      if (chars >= BATCH_CHARS) {
        send();
        waitForWorker();
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    },
    async close() {
      send();
      const running = worker;
      if (!running) {
        if (lost !== undefined) throw new Error(lost);
        return;
      }
      worker = undefined;
      running.ref();
      const reply = new Promise<{ failure?: string }>((resolve, reject) => {
        running.once('message', resolve);
        running.once('error', reject);
      });
      running.postMessage({ close: true });
      try {
        const { failure } = await reply;
        if (failure !== undefined) throw new Error(`could not write a log file: ${failure}`);
      } finally {
        await running.terminate();
      }
    },
  };
}
