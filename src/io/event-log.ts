import fs from 'node:fs';
import path from 'node:path';
import type { TaskchartEvent } from '../types.js';
import { FLUSH_THRESHOLD, writeAll } from './format.js';
import type { Sink } from './sink.js';

/**
 * Writes every event as one JSON object per line (JSON Lines), exactly as the
 * event object is. The file is truncated when the sink is created and parent
 * directories are made. Lines are batched and written synchronously once the
 * batch passes 64 KiB, so memory stays bounded however much a task prints.
 * Events that arrive after `close` are ignored.
 *
 * @example
 * const log = createEventLog('.taskchart/events.jsonl');
 * log.handle(event);
 * await log.close();
 */
export function createEventLog(file: string): Sink {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let fd: number | undefined = fs.openSync(file, 'w');
  let batch: string[] = [];
  let size = 0;

  const flush = (): void => {
    if (fd === undefined || batch.length === 0) return;
    const text = batch.join('');
    batch = [];
    size = 0;
    writeAll(fd, text);
  };

  return {
    handle(event: TaskchartEvent) {
      if (fd === undefined) return;
      const line = `${JSON.stringify(event)}\n`;
      batch.push(line);
      size += line.length;
      if (size >= FLUSH_THRESHOLD) flush();
    },
    async close() {
      if (fd === undefined) return;
      try {
        flush();
      } finally {
        fs.closeSync(fd);
        fd = undefined;
      }
    },
  };
}
