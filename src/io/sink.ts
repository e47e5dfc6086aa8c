import type { TaskchartEvent } from '../types.js';

/**
 * Something that consumes a run's events: a file writer, the terminal reporter.
 * `handle` is called synchronously for every event, in order; `close` flushes
 * and releases whatever the sink holds once the run is over.
 */
export interface Sink {
  handle(event: TaskchartEvent): void;
  close(): Promise<void>;
}

/**
 * Combines sinks into one. A sink that throws (in `handle` or `close`) is
 * reported to `onError` with its index and never keeps the others from
 * receiving the event or from closing.
 *
 * @example
 * const terminal = createTerminal({ stream: process.stderr });
 * const sink = fanOut([createEventLog('events.jsonl'), terminal], (err) => console.error(err));
 */
export function fanOut(sinks: Sink[], onError?: (err: unknown, sink: number) => void): Sink {
  const report = (err: unknown, index: number): void => {
    if (!onError) return;
    // A throwing error handler must not break the run either.
    try {
      onError(err, index);
    } catch {
      // ignored on purpose
    }
  };

  return {
    handle(event) {
      sinks.forEach((sink, index) => {
        try {
          sink.handle(event);
        } catch (err) {
          report(err, index);
        }
      });
    },
    async close() {
      const closing = sinks.map(async (sink) => sink.close());
      const outcomes = await Promise.allSettled(closing);
      outcomes.forEach((outcome, index) => {
        if (outcome.status === 'rejected') report(outcome.reason, index);
      });
    },
  };
}
