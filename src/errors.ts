import type { SourceLocation } from './types.js';

/** Stable error codes; the CLI maps them to exit codes. */
export type TaskchartErrorCode = 'INVALID_WORKFLOW' | 'USAGE' | 'TASK_FAILED';

export class TaskchartError extends Error {
  readonly code: TaskchartErrorCode;

  constructor(code: TaskchartErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TaskchartError';
    this.code = code;
  }
}

/** One problem found in a workflow, with where it is. */
export interface WorkflowIssue {
  message: string;
  source?: SourceLocation;
  /** The field at fault, e.g. `tasks.fetch.needs`. */
  field?: string;
}

export function formatLocation(source: SourceLocation | undefined): string {
  if (!source) return '';
  return `${source.file}:${source.line}:${source.column}`;
}

/** Renders one issue as a single line: `file:line:col: field: message`. */
export function formatIssue(issue: WorkflowIssue): string {
  const where = formatLocation(issue.source);
  const parts = [where, issue.field, issue.message].filter((part) => part);
  return parts.join(': ');
}

/**
 * Thrown before anything runs when a workflow (a file or a definition) is invalid. Carries every
 * issue found, so a user fixes them all in one go.
 */
export class WorkflowValidationError extends TaskchartError {
  readonly issues: readonly WorkflowIssue[];

  constructor(issues: readonly WorkflowIssue[]) {
    const lines = issues.map(formatIssue);
    const head =
      issues.length === 1 ? 'Invalid workflow' : `Invalid workflow (${issues.length} problems)`;
    super('INVALID_WORKFLOW', `${head}:\n${lines.map((line) => `  ${line}`).join('\n')}`);
    this.name = 'WorkflowValidationError';
    this.issues = issues;
  }
}

/** A command line that cannot be understood. */
export class UsageError extends TaskchartError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/**
 * What a process-backed runner rejects with when its process exits non-zero or dies by a signal;
 * the task keeps `exitCode` and `signal` in its error.
 */
export class TaskProcessError extends TaskchartError {
  readonly exitCode?: number;
  readonly signal?: string;

  constructor(message: string, details: { exitCode?: number; signal?: string }) {
    super('TASK_FAILED', message);
    this.name = 'TaskProcessError';
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.signal !== undefined) this.signal = details.signal;
  }
}
