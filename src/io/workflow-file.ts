/**
 * Reads taskchart's YAML workflow files into a `WorkflowDefinition`.
 *
 * Every problem in the file is collected, each with its `file:line:column` and field, and thrown
 * at once as a `WorkflowValidationError`. Graph rules (unknown `needs`, cycles, `forEach`
 * targets) are left to the engine, which reports them with each task's `source`.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { runShell } from '../actors/shell.js';
import { formatDurationMs } from '../duration.js';
import { RELIABILITY_FIELDS } from '../machines/checks.js';
import { formatLocation, WorkflowValidationError } from '../errors.js';
import type { TaskDefinition, WorkflowDefinition } from '../types.js';
import {
  describe,
  join,
  locate,
  readBoolean,
  readDuration,
  readLimit,
  readNumber,
  readString,
  report,
  segment,
  sorted,
  syntaxMessage,
  where,
} from './workflow-messages.js';
import type { Entry, Reader } from './workflow-messages.js';

/** Options for reading a workflow file. */
export interface WorkflowFileOptions {
  /**
   * For every shell task: ms between SIGTERM to its process group and SIGKILL once the task is
   * aborted (cancelled or timed out). Default 5000.
   */
  graceMs?: number;
}

const WORKFLOW_FIELDS = ['name', 'maxParallel', 'failFast', 'tasks'];
const TASK_FIELDS = [
  ...['description', 'needs', 'run', 'forEach', 'cwd', 'env'],
  ...RELIABILITY_FIELDS,
  ...['tasks', 'maxParallel', 'failFast'],
];
const RESERVED_ID_CHARS = /[/[\]]/;
// C0 and C1 control characters, DEL included.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

type EntryKind = 'task' | 'field' | 'env variable';

type Fields = Map<string, Entry> & {
  /** Reads a field that is present, given its entry and its full field path. */
  read<T>(name: string, read: (entry: Entry, field: string) => T | undefined): T | undefined;
};

interface FileReader extends Reader {
  graceMs: number | undefined;
}

/** Larger workflow files are refused rather than read into memory. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Parses the text of a workflow file. `file` is used for positions in errors, for the
 * definition's `file`, and to resolve each task's `cwd` against the file's folder.
 *
 * @example
 * const workflow = parseWorkflow('tasks:\n  hello: { run: echo hi }\n', 'wf.yaml');
 * workflow.tasks[0]?.id; // 'hello'
 * @throws WorkflowValidationError listing every problem found, each with file:line:column.
 */
export function parseWorkflow(
  text: string,
  file: string,
  options: WorkflowFileOptions = {},
): WorkflowDefinition {
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
  const baseDir = dirname(resolve(file));
  const reader: FileReader = { file, baseDir, doc, lines, issues: [], graceMs: options.graceMs };

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      reader.issues.push({
        message: syntaxMessage(error.code, error.message),
        source: locate(reader, error.pos[0]),
      });
    }
    throw new WorkflowValidationError(reader.issues);
  }

  let workflow: WorkflowDefinition | undefined;
  try {
    workflow = readWorkflow(reader, doc.contents);
  } catch (error) {
    if (!(error instanceof RangeError && /call stack/i.test(error.message))) throw error;
    // Only an alias that contains itself, or absurd nesting, runs the reader out of stack.
    const message =
      'the workflow refers to itself through an alias (&name … *name) or nests too deeply; remove the alias or flatten the groups';
    throw new WorkflowValidationError([{ message, source: { file, line: 1, column: 1 } }]);
  }
  if (reader.issues.length > 0 || !workflow) {
    throw new WorkflowValidationError(sorted(reader.issues));
  }
  return workflow;
}

/**
 * Reads and parses a workflow file; `options.graceMs` goes to every shell task.
 *
 * @example
 * const workflow = await loadWorkflowFile('workflow.yaml', { graceMs: 2000 });
 * @throws WorkflowValidationError when the file cannot be read or is invalid.
 */
export async function loadWorkflowFile(
  path: string,
  options: WorkflowFileOptions = {},
): Promise<WorkflowDefinition> {
  let bytes: Buffer;
  try {
    const stats = await stat(path);
    if (!stats.isFile()) throw new Error('it is not a regular file');
    if (stats.size > MAX_FILE_BYTES) throw new Error(`it is larger than ${MAX_FILE_BYTES} bytes`);
    bytes = await readFile(path);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    const reason = missing ? 'it does not exist' : (error as Error).message;
    const message = `cannot read workflow file "${path}": ${reason}; check the path and permissions`;
    throw new WorkflowValidationError([{ message }]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Where the first byte that is not UTF-8 lies: the first replacement character.
    const replaced = bytes.toString('utf8');
    const before = replaced.slice(0, replaced.indexOf('\uFFFD')).split('\n');
    const source = { file: path, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
    const message = 'the file is not valid UTF-8; save it as UTF-8';
    throw new WorkflowValidationError([{ message, source }]);
  }
  return parseWorkflow(text, path, options);
}

function readWorkflow(reader: FileReader, root: YamlNode | null): WorkflowDefinition | undefined {
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
  readLimits(reader, fields, workflow);
  if (!fields.has('tasks')) {
    const message = 'the workflow has no tasks; add a tasks mapping of task id to task';
    report(reader, root, 'tasks', message);
  }
  workflow.tasks = fields.read('tasks', (e, f) => readTasks(reader, e, f)) ?? [];
  return workflow;
}

function readTasks(reader: FileReader, entry: Entry, field: string): TaskDefinition[] {
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

function readTask(reader: FileReader, entry: Entry, field: string): TaskDefinition | undefined {
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
  const text =
    (expected: string, allowEmpty = false) =>
    (e: Entry, f: string) =>
      readString(reader, e, f, expected, allowEmpty);
  setIf(task, 'description', fields.read('description', text('a string', true)));
  setIf(
    task,
    'needs',
    fields.read('needs', (e, f) => readNeeds(reader, e, f)),
  );
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
        ...(reader.graceMs !== undefined && { graceMs: reader.graceMs }),
      });
    }
    readReliability(reader, fields, field, task);
  }
  if (fields.has('tasks')) {
    task.tasks = fields.read('tasks', (e, f) => readTasks(reader, e, f)) ?? [];
    readLimits(reader, fields, task);
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
    misplaced(
      'forEach',
      'forEach needs run and cannot be used with tasks; move the group into a task of its own',
    );
  } else {
    misplaced('maxParallel', 'maxParallel applies only to groups (tasks with tasks); remove it');
    misplaced('failFast', 'failFast applies only to groups (tasks with tasks); remove it');
  }
  if (!run) {
    for (const name of RELIABILITY_FIELDS) {
      misplaced(
        name,
        `${name} applies only to tasks with run; move it to the tasks that run commands`,
      );
    }
    misplaced(
      'cwd',
      'cwd applies only to tasks with run; remove it or move it to the tasks that run commands',
    );
    misplaced(
      'env',
      'env applies only to tasks with run; remove it or move it to the tasks that run commands',
    );
  }
}

function setIf<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** `maxParallel` and `failFast`, of the workflow or of a group. */
function readLimits(
  reader: Reader,
  fields: Fields,
  target: Pick<WorkflowDefinition, 'maxParallel' | 'failFast'>,
): void {
  setIf(
    target,
    'maxParallel',
    fields.read('maxParallel', (e, f) => readLimit(reader, e, f)),
  );
  setIf(
    target,
    'failFast',
    fields.read('failFast', (e, f) => readBoolean(reader, e, f)),
  );
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

function readNeeds(reader: Reader, entry: Entry, field: string): string[] {
  const node = entry.value;
  if (isScalar(node)) {
    const id = readString(reader, entry, field, 'a task id or a list of task ids');
    return id === undefined || !isSiblingId(reader, entry, field, id) ? [] : [id];
  }
  if (!isSeq(node)) {
    const got = describe(node);
    report(
      reader,
      where(entry),
      field,
      `needs must be a task id or a list of task ids, got ${got}`,
    );
    return [];
  }
  const needs: string[] = [];
  node.items.forEach((item, index) => {
    const written = asNode(item);
    const value = deref(reader, written);
    const itemEntry: Entry = { key: String(index), keyNode: written ?? node, value, written };
    const itemField = `${field}[${index}]`;
    const id = readString(reader, itemEntry, itemField, 'a task id');
    if (id !== undefined && isSiblingId(reader, itemEntry, itemField, id)) needs.push(id);
  });
  return needs;
}

/** A for-each instance (`per[a.txt]`) cannot be waited for on its own; its for-each task can. */
function isSiblingId(reader: Reader, entry: Entry, field: string, id: string): boolean {
  const bracket = id.indexOf('[');
  if (bracket === -1) return true;
  const forEach = id.slice(0, bracket);
  const fix = forEach
    ? `name the for-each task ${JSON.stringify(forEach)} instead`
    : 'name the for-each task instead';
  const message = `needs ${JSON.stringify(id)} names a for-each instance; ${fix}`;
  report(reader, where(entry), field, message);
  return false;
}

/** `timeout` and the retry fields of a task with `run`. */
function readReliability(
  reader: Reader,
  fields: Fields,
  field: string,
  task: TaskDefinition,
): void {
  const duration = (positive: boolean) => (e: Entry, f: string) =>
    readDuration(reader, e, f, positive);
  const number = (expected: string, accept: (n: number) => boolean) => (e: Entry, f: string) =>
    readNumber(reader, e, f, expected, accept);
  setIf(task, 'timeout', fields.read('timeout', duration(true)));
  const retries = number('a whole number >= 0', (n) => Number.isSafeInteger(n) && n >= 0);
  setIf(task, 'retries', fields.read('retries', retries));
  setIf(task, 'retryDelay', fields.read('retryDelay', duration(false)));
  const backoff = number('a number >= 1 (1 = the same wait every time)', (n) => n >= 1);
  setIf(task, 'retryBackoff', fields.read('retryBackoff', backoff));
  setIf(task, 'retryMaxDelay', fields.read('retryMaxDelay', duration(false)));
  const jitter = number('a number from 0 to 1', (n) => n >= 0 && n <= 1);
  setIf(task, 'retryJitter', fields.read('retryJitter', jitter));

  const { retryDelay, retryMaxDelay } = task;
  const maxEntry = fields.get('retryMaxDelay');
  if (retryDelay === undefined || retryMaxDelay === undefined || !maxEntry) return;
  if (retryMaxDelay >= retryDelay) return;
  const expected = `no shorter than retryDelay (${formatDurationMs(retryDelay)})`;
  const message = `retryMaxDelay must be ${expected}, got ${describe(maxEntry.value)}; raise retryMaxDelay or lower retryDelay`;
  report(reader, where(maxEntry), join(field, 'retryMaxDelay'), message);
}

/** Environment variables; scalar values keep the text they were written with (`010` stays "010"). */
function readEnv(reader: Reader, entry: Entry, field: string): Record<string, string> | undefined {
  const map = entry.value;
  if (!isMap(map)) {
    const got = describe(map);
    report(
      reader,
      where(entry),
      field,
      `env must be a mapping of variable names to values, got ${got}`,
    );
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

/** The node an alias points at; an alias to a missing anchor stays as it is. */
function deref(reader: Reader, node: YamlNode | null): YamlNode | null {
  if (!isAlias(node)) return node;
  return node.resolve(reader.doc) ?? node;
}

function asNode(value: unknown): YamlNode | null {
  if (isScalar(value) || isMap(value) || isSeq(value) || isAlias(value)) return value;
  return null;
}
