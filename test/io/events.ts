import type { LogLevel, TaskchartEvent, TaskInfo } from '../../src/index.js';

/** Builders of hand-written events for the sink and terminal tests. */
export const info = (id: string, description = id, needs: string[] = []): TaskInfo => ({
  id,
  description,
  kind: 'task',
  needs,
});

export const log = (
  time: number,
  id: string,
  level: LogLevel,
  line: string,
  stream?: 'stdout' | 'stderr',
): TaskchartEvent =>
  stream
    ? { type: 'task.log', time, id, status: 'running', level, line, stream }
    : { type: 'task.log', time, id, status: 'running', level, line };

export const progress = (
  time: number,
  id: string,
  fraction: number,
  message: string,
): TaskchartEvent => ({ type: 'task.progress', time, id, status: 'running', fraction, message });
