/**
 * How the workflow file reader words and places its issues (positions as `file:line:column`,
 * values as the user wrote them, fields as paths such as `tasks.fetch.needs[1]`), and the
 * readers of single values, which report in that wording.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { parseDuration } from '../duration.js';
import type { WorkflowIssue } from '../errors.js';
import type { SourceLocation } from '../types.js';

const DURATION = 'a duration such as 500ms, 5s or 2m';

/** The state of reading one file: where it is, its parsed document and the issues so far. */
export interface Reader {
  file: string;
  baseDir: string;
  doc: Document;
  lines: LineCounter;
  issues: WorkflowIssue[];
}

/** One mapping entry whose key is usable, duplicates already reported and dropped. */
export interface Entry {
  key: string;
  keyNode: YamlNode;
  /** The value with aliases resolved; `null` when the value is missing. */
  value: YamlNode | null;
  /** The value as written (an alias stays an alias), for positions. */
  written: YamlNode | null;
}

/** Records an issue at `node` (the start of the file when there is none). */
export function report(
  reader: Reader,
  node: YamlNode | null,
  field: string | undefined,
  message: string,
): void {
  const issue: WorkflowIssue = { message, source: locate(reader, node?.range?.[0] ?? 0) };
  if (field) issue.field = field;
  reader.issues.push(issue);
}

/** Reports that the value of `entry` is not what `field` expects; `fix` is appended when given. */
export function reportValue(
  reader: Reader,
  entry: Entry,
  field: string,
  expected: string,
  fix?: string,
): void {
  const got = describe(entry.value);
  const message = `${fieldName(field)} must be ${expected}, got ${got}${fix ? `; ${fix}` : ''}`;
  report(reader, where(entry), field, message);
}

export function readString(
  reader: Reader,
  entry: Entry,
  field: string,
  expected = 'a string',
  allowEmpty = false,
): string | undefined {
  const node = entry.value;
  const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  if (text !== undefined && (text !== '' || allowEmpty)) return text;
  const got = text === '' ? 'an empty string' : describe(node);
  report(reader, where(entry), field, `${fieldName(field)} must be ${expected}, got ${got}`);
  return undefined;
}

export function readLimit(reader: Reader, entry: Entry, field: string): number | undefined {
  const node = entry.value;
  if (isScalar(node) && Number.isSafeInteger(node.value) && (node.value as number) >= 0) {
    return node.value as number;
  }
  reportValue(reader, entry, field, 'a whole number >= 0 (0 = unlimited)');
  return undefined;
}

export function readBoolean(reader: Reader, entry: Entry, field: string): boolean | undefined {
  const node = entry.value;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  reportValue(reader, entry, field, 'true or false');
  return undefined;
}

/** A number that `accept` takes; written as a YAML number, not a quoted string. */
export function readNumber(
  reader: Reader,
  entry: Entry,
  field: string,
  expected: string,
  accept: (value: number) => boolean,
): number | undefined {
  const node = entry.value;
  const value = isScalar(node) && typeof node.value === 'number' ? node.value : undefined;
  if (value !== undefined && Number.isFinite(value) && accept(value)) return value;
  reportValue(reader, entry, field, expected);
  return undefined;
}

/** A duration such as `500ms`, `5s`, `1.5m` or `1h`, in ms; `positive` refuses zero. */
export function readDuration(
  reader: Reader,
  entry: Entry,
  field: string,
  positive: boolean,
): number | undefined {
  const node = entry.value;
  const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms !== undefined && (ms > 0 || !positive)) return ms;
  if (ms !== undefined) {
    reportValue(
      reader,
      entry,
      field,
      'longer than 0',
      `leave ${fieldName(field)} out for no limit`,
    );
  } else if (isScalar(node) && typeof node.value === 'number') {
    reportValue(reader, entry, field, DURATION, `add a unit, e.g. ${node.source ?? node.value}s`);
  } else {
    reportValue(reader, entry, field, DURATION);
  }
  return undefined;
}

/** Issues in the order they appear in the file. */
export function sorted(issues: WorkflowIssue[]): WorkflowIssue[] {
  const order = (issue: WorkflowIssue) => [issue.source?.line ?? 0, issue.source?.column ?? 0];
  return issues.sort((a, b) => {
    const [lineA = 0, columnA = 0] = order(a);
    const [lineB = 0, columnB = 0] = order(b);
    return lineA - lineB || columnA - columnB;
  });
}

export function locate(reader: Reader, offset: number): SourceLocation {
  const { line, col } = reader.lines.linePos(offset);
  return { file: reader.file, line, column: col };
}

/** Where a value problem is shown: the value as written, or its key when the value is missing. */
export function where(entry: Entry): YamlNode {
  const value = entry.written;
  const empty = isScalar(value) && value.value === null && value.source === '';
  return value && !empty ? value : entry.keyNode;
}

export function syntaxMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') {
    return 'a workflow file holds a single YAML document; remove the "---" separator and what follows';
  }
  return `invalid YAML: ${message.replace(/\.$/, '')}; fix the syntax here`;
}

/** A value as the user wrote it, for "got ..." in messages. */
export function describe(node: YamlNode | null): string {
  if (!node) return 'an empty value';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isAlias(node)) return 'an alias to a missing anchor';
  if (!isScalar(node)) return 'an unsupported value';
  if (typeof node.value === 'string') return JSON.stringify(node.value);
  if (node.value === null) return node.source ? 'null' : 'an empty value';
  return node.source ?? String(node.value);
}

/** A task id as a field path segment: `.fetch`, or `["a.b"]` when the id is not a plain word. */
export function segment(id: string): string {
  return /^[A-Za-z0-9_-]+$/.test(id) ? `.${id}` : `[${JSON.stringify(id)}]`;
}

export function join(field: string, name: string): string {
  return field ? `${field}.${name}` : name;
}

/** The last part of a field path, `needs[1]` for `tasks.fetch.needs[1]`. */
export function fieldName(field: string): string {
  return /[^.]+$/.exec(field)?.[0] ?? field;
}
