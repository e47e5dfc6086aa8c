/**
 * Reads taskchart's YAML workflow files into a `WorkflowDefinition`.
 *
 * Every problem in the file is collected, each with its `file:line:column` and field, and thrown
 * at once as a `WorkflowValidationError`. Graph rules (unknown `needs`, cycles, `forEach`
 * targets) are left to the engine, which reports them with each task's `source`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { runShell } from '../actors/shell.js';
import { formatLocation, WorkflowValidationError } from '../errors.js';
import type { WorkflowIssue } from '../errors.js';
import type { SourceLocation, TaskDefinition, WorkflowDefinition } from '../types.js';

const WORKFLOW_FIELDS = ['name', 'maxParallel', 'failFast', 'tasks'];
const TASK_FIELDS = ['description', 'needs', 'run', 'forEach', 'cwd', 'env', 'tasks', 'maxParallel', 'failFast'];
const RESERVED_ID_CHARS = /[/[\]]/;
// C0 and C1 control characters, DEL included.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** One mapping entry whose key is usable, duplicates already reported and dropped. */
interface Entry {
  key: string;
  keyNode: YamlNode;
  /** The value with aliases resolved; `null` when the value is missing. */
  value: YamlNode | null;
  /** The value as written (an alias stays an alias), for positions. */
  written: YamlNode | null;
}

type EntryKind = 'task' | 'field' | 'env variable';

type Fields = Map<string, Entry> & {
  /** Reads a field that is present, given its entry and its full field path. */
  read<T>(name: string, read: (entry: Entry, field: string) => T | undefined): T | undefined;
};

interface Reader {
  file: string;
  baseDir: string;
  doc: Document;
  lines: LineCounter;
  issues: WorkflowIssue[];
}

/**
 * Parses the text of a workflow file. `file` is used for positions in errors, for the
 * definition's `file`, and to resolve each task's `cwd` against the file's folder.
 *
 * @example
 * const workflow = parseWorkflow('tasks:\n  hello: { run: echo hi }\n', 'wf.yaml');
 * workflow.tasks[0]?.id; // 'hello'
 * @throws WorkflowValidationError listing every problem found, each with file:line:column.
 */
export function parseWorkflow(text: string, file: string): WorkflowDefinition {
  const lines = new LineCounter();
  // YAML 1.2 core schema keeps `on`, `no`, `yes` and `off` as strings; duplicates are
  // reported here, with both positions, rather than by the parser.
  const doc = parseDocument(text, {
    lineCounter: lines,
    version: '1.2',
    schema: 'core',
    uniqueKeys: false,
    prettyErrors: false,
  });
  const reader: Reader = { file, baseDir: dirname(resolve(file)), doc, lines, issues: [] };

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      reader.issues.push({
        message: syntaxMessage(error.code, error.message),
        source: locate(reader, error.pos[0]),
      });
    }
    throw new WorkflowValidationError(reader.issues);
  }

  const workflow = readWorkflow(reader, doc.contents);
  if (reader.issues.length > 0 || !workflow) {
    throw new WorkflowValidationError(sorted(reader.issues));
  }
  return workflow;
}

/**
 * Reads and parses a workflow file.
 *
 * @example
 * const workflow = await loadWorkflowFile('workflow.yaml');
 * @throws WorkflowValidationError when the file cannot be read or is invalid.
 */
export async function loadWorkflowFile(path: string): Promise<WorkflowDefinition> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    const reason = missing ? 'it does not exist' : (error as Error).message;
    const message = `cannot read workflow file "${path}": ${reason}; check the path and permissions`;
    throw new WorkflowValidationError([{ message }]);
  }
  return parseWorkflow(text, path);
}

function syntaxMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') {
    return 'a workflow file holds a single YAML document; remove the "---" separator and what follows';
  }
  return `invalid YAML: ${message.replace(/\.$/, '')}; fix the syntax here`;
}

function readWorkflow(reader: Reader, root: YamlNode | null): WorkflowDefinition | undefined {
  if (!root || (isScalar(root) && root.value === null)) {
    report(reader, root, 'tasks', 'the workflow is empty; add a tasks mapping of task id to task');
    return undefined;
  }
  if (!isMap(root)) {
    const got = describe(root);
    report(reader, root, undefined, `a workflow must be a mapping with a tasks field, got ${got}`);
    return undefined;
  }

  const fields = readFields(reader, root, '', WORKFLOW_FIELDS);
  const workflow: WorkflowDefinition = { tasks: [], file: reader.file };
  const name = fields.read('name', (e, f) => readString(reader, e, f, 'a string', true));
  setIf(workflow, 'name', name);
  setIf(workflow, 'maxParallel', fields.read('maxParallel', (e, f) => readLimit(reader, e, f)));
  setIf(workflow, 'failFast', fields.read('failFast', (e, f) => readBoolean(reader, e, f)));
  if (!fields.has('tasks')) {
    const message = 'the workflow has no tasks; add a tasks mapping of task id to task';
    report(reader, root, 'tasks', message);
  }
  workflow.tasks = fields.read('tasks', (e, f) => readTasks(reader, e, f)) ?? [];
  return workflow;
}

function readTasks(reader: Reader, entry: Entry, field: string): TaskDefinition[] {
  const map = entry.value;
  if (!isMap(map)) {
    const got = describe(map);
    report(reader, where(entry), field, `tasks must be a mapping of task id to task, got ${got}`);
    return [];
  }
  if (map.items.length === 0) {
    report(reader, where(entry), field, 'tasks must not be empty; add at least one task');
    return [];
  }

  const tasks: TaskDefinition[] = [];
  for (const task of readEntries(reader, map, field, 'task')) {
    const definition = readTask(reader, task, `${field}${segment(task.key)}`);
    if (definition) tasks.push(definition);
  }
  return tasks;
}

function readTask(reader: Reader, entry: Entry, field: string): TaskDefinition | undefined {
  const { key: id, keyNode } = entry;
  checkId(reader, id, keyNode, field);
  const map = entry.value;
  if (!isMap(map)) {
    const got = describe(map);
    const message = `task ${JSON.stringify(id)} must be a mapping with run or tasks, got ${got}`;
    report(reader, where(entry), field, message);
    return undefined;
  }

  const fields = readFields(reader, map, field, TASK_FIELDS);
  checkShape(reader, id, keyNode, fields, field);
  const task: TaskDefinition = { id, source: locate(reader, keyNode.range?.[0] ?? 0) };
  const text = (expected: string, allowEmpty = false) => (e: Entry, f: string) =>
    readString(reader, e, f, expected, allowEmpty);
  setIf(task, 'description', fields.read('description', text('a string', true)));
  setIf(task, 'needs', fields.read('needs', (e, f) => readNeeds(reader, e, f)));
  setIf(task, 'forEach', fields.read('forEach', text('a task id')));

  if (fields.has('run')) {
    const command = fields.read('run', text('a shell command'));
    const cwd = fields.read('cwd', text('a folder path'));
    const env = fields.read('env', (e, f) => readEnv(reader, e, f));
    if (command !== undefined) {
      task.run = runShell({
        command,
        baseDir: reader.baseDir,
        ...(cwd !== undefined && { cwd: resolve(reader.baseDir, cwd) }),
        ...(env !== undefined && { env }),
      });
    }
  }
  if (fields.has('tasks')) {
    task.tasks = fields.read('tasks', (e, f) => readTasks(reader, e, f)) ?? [];
    setIf(task, 'maxParallel', fields.read('maxParallel', (e, f) => readLimit(reader, e, f)));
    setIf(task, 'failFast', fields.read('failFast', (e, f) => readBoolean(reader, e, f)));
  }
  return task;
}

function checkId(reader: Reader, id: string, keyNode: YamlNode, field: string): void {
  const quoted = JSON.stringify(id);
  if (id === '') {
    report(reader, keyNode, field, 'a task id must not be empty; give the task a name');
  } else if (RESERVED_ID_CHARS.test(id)) {
    const message = `task id ${quoted} must not contain "/", "[" or "]", which mark qualified ids; rename the task`;
    report(reader, keyNode, field, message);
  } else if (CONTROL_CHARS.test(id)) {
    const message = `task id ${quoted} must not contain control characters; rename the task`;
    report(reader, keyNode, field, message);
  }
}

/** Which fields go together: a leaf has `run`, a group has `tasks`, a for-each has `run`. */
function checkShape(
  reader: Reader,
  id: string,
  keyNode: YamlNode,
  fields: Fields,
  field: string,
): void {
  const quoted = JSON.stringify(id);
  const run = fields.has('run');
  const tasks = fields.has('tasks');
  if (run && tasks) {
    const message = `task ${quoted} has both run and tasks; keep run for a command or tasks for a group`;
    report(reader, keyNode, field, message);
  } else if (!run && !tasks) {
    const message = `task ${quoted} has neither run nor tasks; add run with a command or tasks with a mapping of tasks`;
    report(reader, keyNode, field, message);
  }

  const misplaced = (name: string, message: string) => {
    const entry = fields.get(name);
    if (entry) report(reader, entry.keyNode, `${field}.${name}`, message);
  };
  if (tasks) {
    misplaced('forEach', 'forEach needs run and cannot be used with tasks; move the group into a task of its own');
  } else {
    misplaced('maxParallel', 'maxParallel applies only to groups (tasks with tasks); remove it');
    misplaced('failFast', 'failFast applies only to groups (tasks with tasks); remove it');
  }
  if (!run) {
    misplaced('cwd', 'cwd applies only to tasks with run; remove it or move it to the tasks that run commands');
    misplaced('env', 'env applies only to tasks with run; remove it or move it to the tasks that run commands');
  }
}

function setIf<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** The known fields of a mapping, with `read` for one that is present; reports unknown ones. */
function readFields(reader: Reader, map: YAMLMap, field: string, known: string[]): Fields {
  const entries = new Map<string, Entry>();
  for (const entry of readEntries(reader, map, field, 'field')) {
    if (known.includes(entry.key)) {
      entries.set(entry.key, entry);
      continue;
    }
    const message = `unknown field ${JSON.stringify(entry.key)}; expected one of: ${known.join(', ')}`;
    report(reader, entry.keyNode, join(field, entry.key), message);
  }
  const read = <T>(name: string, fn: (entry: Entry, field: string) => T | undefined) => {
    const entry = entries.get(name);
    return entry && fn(entry, join(field, name));
  };
  return Object.assign(entries, { read });
}

/** The entries of a mapping whose keys are strings; other keys and repeats are reported. */
function readEntries(reader: Reader, map: YAMLMap, field: string, kind: EntryKind): Entry[] {
  const seen = new Map<string, YamlNode>();
  const entries: Entry[] = [];
  for (const pair of map.items as Pair<unknown, unknown>[]) {
    const keyNode = deref(reader, asNode(pair.key)) ?? asNode(pair.key);
    const written = asNode(pair.value);
    const key = isScalar(keyNode) && typeof keyNode.value === 'string' ? keyNode.value : undefined;
    if (key === undefined) {
      const at = keyNode ?? written ?? map;
      const noun = { task: 'a task id', field: 'a field name', 'env variable': 'a name' }[kind];
      const fix = isScalar(keyNode) ? 'quote it' : 'use a plain name instead';
      report(reader, at, field, `${noun} must be a string, got ${describe(keyNode)}; ${fix}`);
      continue;
    }
    const keyAt = keyNode as YamlNode;
    const first = seen.get(key);
    if (first) {
      const firstAt = formatLocation(locate(reader, first.range?.[0] ?? 0));
      const twice = kind === 'task' ? 'is defined twice' : 'is given twice';
      const fix = kind === 'task' ? 'rename or remove one' : 'remove one';
      const at = kind === 'field' ? join(field, key) : `${field}${segment(key)}`;
      const message = `${kind} ${JSON.stringify(key)} ${twice}: first at ${firstAt}; ${fix}`;
      report(reader, keyAt, at, message);
      continue;
    }
    seen.set(key, keyAt);
    entries.push({ key, keyNode: keyAt, value: deref(reader, written), written });
  }
  return entries;
}

function readString(
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

function readLimit(reader: Reader, entry: Entry, field: string): number | undefined {
  const node = entry.value;
  if (isScalar(node) && Number.isSafeInteger(node.value) && (node.value as number) >= 0) {
    return node.value as number;
  }
  const expected = 'a whole number >= 0 (0 = unlimited)';
  report(reader, where(entry), field, `${fieldName(field)} must be ${expected}, got ${describe(node)}`);
  return undefined;
}

function readBoolean(reader: Reader, entry: Entry, field: string): boolean | undefined {
  const node = entry.value;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  const got = describe(node);
  report(reader, where(entry), field, `${fieldName(field)} must be true or false, got ${got}`);
  return undefined;
}

function readNeeds(reader: Reader, entry: Entry, field: string): string[] {
  const node = entry.value;
  if (isScalar(node)) {
    const id = readString(reader, entry, field, 'a task id or a list of task ids');
    return id === undefined ? [] : [id];
  }
  if (!isSeq(node)) {
    const got = describe(node);
    report(reader, where(entry), field, `needs must be a task id or a list of task ids, got ${got}`);
    return [];
  }
  const needs: string[] = [];
  node.items.forEach((item, index) => {
    const written = asNode(item);
    const value = deref(reader, written);
    const itemEntry: Entry = { key: String(index), keyNode: written ?? node, value, written };
    const id = readString(reader, itemEntry, `${field}[${index}]`, 'a task id');
    if (id !== undefined) needs.push(id);
  });
  return needs;
}

/** Environment variables; scalar values keep the text they were written with (`010` stays "010"). */
function readEnv(reader: Reader, entry: Entry, field: string): Record<string, string> | undefined {
  const map = entry.value;
  if (!isMap(map)) {
    const got = describe(map);
    report(reader, where(entry), field, `env must be a mapping of variable names to values, got ${got}`);
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const variable of readEntries(reader, map, field, 'env variable')) {
    const name = variable.key;
    const at = `${field}${segment(name)}`;
    if (name === '' || name.includes('=') || name.includes('\u0000')) {
      const message = `env variable name ${JSON.stringify(name)} must be non-empty and contain no "=" or NUL; rename it`;
      report(reader, variable.keyNode, at, message);
      continue;
    }
    const value = variable.value;
    if (!isScalar(value)) {
      const message = `env variable ${JSON.stringify(name)} must be a string, number or boolean, got ${describe(value)}`;
      report(reader, where(variable), at, message);
      continue;
    }
    const text = typeof value.value === 'string' ? value.value : value.source;
    env[name] = text ?? String(value.value);
  }
  return env;
}

function report(
  reader: Reader,
  node: YamlNode | null,
  field: string | undefined,
  message: string,
): void {
  const issue: WorkflowIssue = { message, source: locate(reader, node?.range?.[0] ?? 0) };
  if (field) issue.field = field;
  reader.issues.push(issue);
}

/** Issues in the order they appear in the file. */
function sorted(issues: WorkflowIssue[]): WorkflowIssue[] {
  const order = (issue: WorkflowIssue) => [issue.source?.line ?? 0, issue.source?.column ?? 0];
  return issues.sort((a, b) => {
    const [lineA = 0, columnA = 0] = order(a);
    const [lineB = 0, columnB = 0] = order(b);
    return lineA - lineB || columnA - columnB;
  });
}

function locate(reader: Reader, offset: number): SourceLocation {
  const { line, col } = reader.lines.linePos(offset);
  return { file: reader.file, line, column: col };
}

/** Where a value problem is shown: the value as written, or its key when the value is missing. */
function where(entry: Entry): YamlNode {
  const value = entry.written;
  const empty = isScalar(value) && value.value === null && value.source === '';
  return value && !empty ? value : entry.keyNode;
}

/** The node an alias points at; an alias to a missing anchor stays as it is. */
function deref(reader: Reader, node: YamlNode | null): YamlNode | null {
  if (!isAlias(node)) return node;
  return node.resolve(reader.doc) ?? node;
}

function asNode(value: unknown): YamlNode | null {
  if (isScalar(value) || isMap(value) || isSeq(value) || isAlias(value)) return value;
  return null;
}

/** A value as the user wrote it, for "got ..." in messages. */
function describe(node: YamlNode | null): string {
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
function segment(id: string): string {
  return /^[A-Za-z0-9_-]+$/.test(id) ? `.${id}` : `[${JSON.stringify(id)}]`;
}

function join(field: string, name: string): string {
  return field ? `${field}.${name}` : name;
}

/** The last part of a field path, `needs[1]` for `tasks.fetch.needs[1]`. */
function fieldName(field: string): string {
  return /[^.]+$/.exec(field)?.[0] ?? field;
}
