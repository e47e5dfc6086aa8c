/**
 * taskchart: a workflow engine on XState v5 actors.
 *
 * @example
 * import { createWorkflow } from 'taskchart';
 * const run = createWorkflow({ tasks: [{ id: 'hello', run: ({ log }) => log.info('hi') }] }).run();
 * run.on('task.done', (event) => console.log(event.id));
 * await run.result;
 */
export { createWorkflow, defineWorkflow, runWorkflow } from './run.js';
export type { Run, RunOptions, Workflow } from './run.js';
export { killAllProcesses, runShell } from './actors/shell.js';
export type { ShellOptions } from './actors/shell.js';
export { taskMachine, describeError } from './machines/task.js';
export { orchestratorMachine } from './machines/orchestrator.js';
export type { OrchestratorInput, OrchestratorOutput } from './machines/orchestrator.js';
export { createOrchestrator, createTurnBudget } from './actors/orchestrate.js';
export type { OrchestratorOptions, TurnBudget } from './actors/orchestrate.js';
export type { StartBudget } from './machines/scheduler-state.js';
export { compileWorkflow } from './machines/graph.js';
export { createStatusTable } from './status.js';
export { loadWorkflowFile, parseWorkflow } from './io/workflow-file.js';
export { createEventLog } from './io/event-log.js';
export { createLogFiles, logFileName } from './io/log-files.js';
export { createSummary } from './io/summary.js';
export type { RunSummary, TaskSummary } from './io/summary.js';
export { createTerminal } from './io/terminal.js';
export type { TerminalOptions } from './io/terminal.js';
export { fanOut } from './io/sink.js';
export type { Sink } from './io/sink.js';
export type { StatusTable } from './status.js';
export {
  TaskchartError,
  TaskProcessError,
  UsageError,
  WorkflowValidationError,
  formatIssue,
} from './errors.js';
export type { TaskchartErrorCode, WorkflowIssue } from './errors.js';
export type * from './types.js';
