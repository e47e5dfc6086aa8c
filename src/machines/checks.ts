/**
 * Checks of single values in a workflow definition: limits, durations, retry policies and unknown
 * fields, each problem as a `WorkflowIssue` naming the field.
 */
import type { WorkflowIssue } from '../errors.js';
import type { SourceLocation, TaskDefinition } from '../types.js';
import type { RetryPolicy } from './graph.js';

/** The longest timer Node keeps: longer ones fire at once. About 24.8 days. */
export const MAX_DELAY_MS = 2_147_483_647;
/** How deep groups may nest. */
export const MAX_DEPTH = 32;
export const WORKFLOW_KEYS = new Set(['name', 'maxParallel', 'failFast', 'tasks', 'file']);
/** Fields of tasks that run: how long an attempt may take and how often it is tried. */
export const RELIABILITY_FIELDS = [
  'timeout',
  'retries',
  'retryDelay',
  'retryBackoff',
  'retryMaxDelay',
  'retryJitter',
] as const;
export const TASK_KEYS = new Set<string>([
  ...['id', 'description', 'needs', 'run', 'forEach', 'tasks', 'maxParallel', 'failFast'],
  ...RELIABILITY_FIELDS,
  'source',
]);

/** A field the definition does not know is a typo that would silently change what runs. */
export function unknownKeys(
  value: object,
  known: ReadonlySet<string>,
  source: SourceLocation | undefined,
  owner: string,
): WorkflowIssue[] {
  const expected = [...known].filter((key) => key !== 'source' && key !== 'file').join(', ');
  return Object.keys(value)
    .filter((key) => !known.has(key))
    .map((key) =>
      issue(source, `${owner}.${key}`, `unknown field "${key}"; expected one of: ${expected}`),
    );
}

/** Checks a `maxParallel` and a `failFast` value; also used for run options. */
export function checkLimits(
  maxParallel: unknown,
  failFast: unknown,
  source: SourceLocation | undefined,
  owner: string,
): WorkflowIssue[] {
  const issues: WorkflowIssue[] = [];
  const validLimit =
    maxParallel === undefined ||
    (typeof maxParallel === 'number' && Number.isInteger(maxParallel) && maxParallel >= 0);
  if (!validLimit) {
    issues.push(
      issue(
        source,
        `${owner}.maxParallel`,
        `must be a whole number >= 0 (0 = unlimited), got ${show(maxParallel)}`,
      ),
    );
  }
  if (failFast !== undefined && typeof failFast !== 'boolean') {
    issues.push(issue(source, `${owner}.failFast`, `must be true or false, got ${show(failFast)}`));
  }
  return issues;
}

export function checkNumber(
  value: unknown,
  field: string,
  expected: string,
  valid: (value: number) => boolean,
  source: SourceLocation | undefined,
  issues: WorkflowIssue[],
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && valid(value)) return value;
  issues.push(issue(source, field, `must be ${expected}, got ${show(value)}`));
  return undefined;
}

/** Each retry field: what it must be, and the check. */
const RETRY_FIELDS = {
  retries: ['a whole number >= 0', (n: number) => Number.isInteger(n) && n >= 0],
  retryDelay: [
    `a number of ms from 0 to ${MAX_DELAY_MS}`,
    (n: number) => n >= 0 && n <= MAX_DELAY_MS,
  ],
  retryBackoff: ['a number >= 1', (n: number) => n >= 1],
  retryMaxDelay: [
    `a number of ms from 0 to ${MAX_DELAY_MS}`,
    (n: number) => n >= 0 && n <= MAX_DELAY_MS,
  ],
  retryJitter: ['a number from 0 to 1', (n: number) => n >= 0 && n <= 1],
} as const satisfies Record<string, readonly [string, (n: number) => boolean]>;

export function compileRetry(
  task: TaskDefinition,
  id: string,
  isGroup: boolean,
  issues: WorkflowIssue[],
): RetryPolicy | undefined {
  const at = task.source;
  const names = Object.keys(RETRY_FIELDS) as (keyof typeof RETRY_FIELDS)[];
  if (names.every((name) => task[name] === undefined)) return undefined;
  if (isGroup) {
    issues.push(
      issue(at, `${id}.retries`, 'a group cannot be retried; give its tasks retries instead'),
    );
    return undefined;
  }
  const read = (name: keyof typeof RETRY_FIELDS): number | undefined => {
    const [expected, valid] = RETRY_FIELDS[name];
    return checkNumber(task[name], `${id}.${name}`, expected, valid, at, issues);
  };
  const retries = read('retries');
  const delay = read('retryDelay');
  const backoff = read('retryBackoff');
  const maxDelay = read('retryMaxDelay');
  const jitter = read('retryJitter');
  return {
    retries: retries ?? 0,
    delay: delay ?? 1000,
    backoff: backoff ?? 2,
    // The default cap never cuts a first wait that was asked for explicitly.
    maxDelay: maxDelay ?? Math.min(MAX_DELAY_MS, Math.max(30_000, delay ?? 0)),
    jitter: jitter ?? 0,
  };
}

export function issue(
  source: SourceLocation | undefined,
  field: string,
  message: string,
): WorkflowIssue {
  const found: WorkflowIssue = { field, message };
  if (source) found.source = source;
  return found;
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  return JSON.stringify(value) ?? String(value);
}
