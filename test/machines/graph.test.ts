import { fromPromise, toPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  createOrchestrator,
  createWorkflow,
  taskMachine,
  WorkflowValidationError,
  type TaskchartEvent,
  type TaskDefinition,
  type WorkflowDefinition,
  type WorkflowIssue,
  type OrchestratorInput,
} from '../../src/index.js';
import { graphNode, trace, type GraphNode } from '../helpers.js';

type CompiledScope = OrchestratorInput['scope'];

const pass = async (): Promise<void> => {};

/** The issues createWorkflow reports for a definition; fails the test when it does not throw. */
function issuesOf(definition: WorkflowDefinition): readonly WorkflowIssue[] {
  try {
    createWorkflow(definition);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowValidationError);
    return (error as WorkflowValidationError).issues;
  }
  expect.fail('createWorkflow accepted an invalid workflow');
}

describe('workflow validation', () => {
  it('reports a prerequisite that is not a task', () => {
    expect(issuesOf({ tasks: [{ id: 'a', needs: ['ghost'], run: pass }] })).toEqual([
      { field: 'a.needs', message: expect.stringContaining('"ghost"') },
    ]);
  });

  it('says how to name a for-each instance or a task inside a group in needs', () => {
    const issues = issuesOf({
      tasks: [
        { id: 'split', run: pass },
        { id: 'per', forEach: 'split', run: pass },
        { id: 'g', tasks: [{ id: 'inner', run: pass }] },
        { id: 'a', needs: ['per[x.txt]', 'g/inner'], run: pass },
      ],
    });
    expect(issues.map((issue) => issue.message)).toEqual([
      'needs "per[x.txt]", a for-each instance; name the for-each task "per" instead',
      'needs "g/inner", a task inside a group; a task can only need tasks of its own scope, so name the group "g" instead',
    ]);
  });

  it('reports a duplicate id with where it was first defined', () => {
    const first = { file: 'wf.yaml', line: 2, column: 3 };
    const issues = issuesOf({
      tasks: [
        { id: 'a', run: pass, source: first },
        { id: 'a', run: pass, source: { file: 'wf.yaml', line: 4, column: 3 } },
      ],
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/duplicate task id "a"/);
    expect(issues[0]?.message).toContain('wf.yaml:2:3');
    expect(issues[0]?.source).toEqual({ file: 'wf.yaml', line: 4, column: 3 });
  });

  it('reports a task that needs itself', () => {
    expect(issuesOf({ tasks: [{ id: 'a', needs: ['a'], run: pass }] })).toEqual([
      { field: 'a.needs', message: expect.stringMatching(/"a" needs itself/) },
    ]);
  });

  it('names the tasks of a cycle in order', () => {
    const issues = issuesOf({
      tasks: [
        { id: 'a', needs: ['b'], run: pass },
        { id: 'b', needs: ['c'], run: pass },
        { id: 'c', needs: ['a'], run: pass },
        { id: 'free', run: pass },
      ],
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toContain('a → b → c → a');
  });

  it('finds a cycle inside a group', () => {
    const issues = issuesOf({
      tasks: [
        {
          id: 'g',
          tasks: [
            { id: 'x', needs: ['y'], run: pass },
            { id: 'y', needs: ['x'], run: pass },
          ],
        },
      ],
    });
    expect(issues).toEqual([{ field: 'g/x.needs', message: expect.stringContaining('x → y → x') }]);
  });

  it('reports several problems together', () => {
    const issues = issuesOf({
      tasks: [
        { id: 'a', needs: ['ghost'], run: pass },
        { id: 'a', run: pass },
        { id: 'b', needs: ['b'], run: pass },
        { id: 'c', forEach: 'nowhere', run: pass },
      ],
    });
    expect(issues.map((issue) => issue.message)).toEqual([
      expect.stringContaining('duplicate task id "a"'),
      expect.stringContaining('"ghost"'),
      expect.stringContaining('needs itself'),
      expect.stringContaining('"nowhere"'),
    ]);
    let message = '';
    try {
      createWorkflow({
        tasks: [
          { id: 'a', needs: ['x'], run: pass },
          { id: 'a', run: pass },
        ],
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid workflow \(2 problems\):\n {2}a: .*\n {2}a\.needs: /);
  });

  it('reports a cycle together with unrelated problems', () => {
    // Regression: cycle detection only ran when no other problem had been found.
    const issues = issuesOf({
      maxParallel: -1,
      tasks: [
        { id: 'a', needs: ['b'], run: pass },
        { id: 'b', needs: ['a'], run: pass },
        { id: 'other', needs: ['ghost'], run: pass },
      ],
    });
    expect(issues.map((issue) => issue.field)).toEqual(
      expect.arrayContaining(['workflow.maxParallel', 'other.needs', 'a.needs']),
    );
    expect(issues.some((issue) => issue.message.includes('a → b → a'))).toBe(true);
  });

  it('rejects forEach on a missing task and on a group', () => {
    expect(issuesOf({ tasks: [{ id: 'per', forEach: 'split', run: pass }] })).toEqual([
      { field: 'per.forEach', message: expect.stringContaining('"split" is not a task') },
    ]);
    expect(
      issuesOf({
        tasks: [
          { id: 'g', tasks: [{ id: 'x', run: pass }] },
          { id: 'per', forEach: 'g', run: pass },
        ],
      }),
    ).toEqual([{ field: 'per.forEach', message: expect.stringContaining('is a group') }]);
  });

  it('rejects an empty task list, at the top and in a group', () => {
    expect(issuesOf({ tasks: [] })).toEqual([
      { field: 'tasks', message: expect.stringContaining('no tasks') },
    ]);
    expect(issuesOf({ tasks: [{ id: 'g', tasks: [] }] })).toEqual([
      { field: 'g.tasks', message: expect.stringContaining('no tasks') },
    ]);
  });

  it.each([-1, 1.5, Number.NaN])(
    'rejects maxParallel %s in the workflow and in a group',
    (limit) => {
      expect(issuesOf({ maxParallel: limit, tasks: [{ id: 'a', run: pass }] })).toEqual([
        { field: 'workflow.maxParallel', message: expect.stringContaining('whole number >= 0') },
      ]);
      expect(
        issuesOf({ tasks: [{ id: 'g', maxParallel: limit, tasks: [{ id: 'a', run: pass }] }] }),
      ).toEqual([
        { field: 'g.maxParallel', message: expect.stringContaining('whole number >= 0') },
      ]);
    },
  );

  it.each([-1, 1.5])(
    'rejects the run option maxParallel %s before any task starts',
    async (limit) => {
      // Regression: run options were used as given, so -1 meant unlimited and 1.5 let two tasks run.
      let calls = 0;
      const workflow = createWorkflow({ tasks: [{ id: 'a', run: () => void (calls += 1) }] });
      let refusal: unknown;
      try {
        await workflow.run({ maxParallel: limit }).result;
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(Error);
      expect((refusal as Error).message).toMatch(/maxParallel/);
      expect(calls).toBe(0);
    },
  );

  it('validates and runs a chain of 10,000 tasks', async () => {
    const tasks: TaskDefinition[] = [{ id: 't0', run: pass }];
    for (let index = 1; index < 10_000; index++) {
      tasks.push({ id: `t${index}`, needs: [`t${index - 1}`], run: pass });
    }
    const result = await createWorkflow({ tasks }).run().result;
    expect(result.status).toBe('done');
    expect(Object.values(result.tasks).every((task) => task.status === 'done')).toBe(true);
  }, 60_000);

  it('reports a cycle through 10,000 tasks without overflowing the stack', () => {
    const count = 10_000;
    const tasks: TaskDefinition[] = Array.from({ length: count }, (_, index) => ({
      id: `t${index}`,
      needs: [`t${(index + 1) % count}`],
      run: pass,
    }));
    const issues = issuesOf({ tasks });
    expect(issues).toHaveLength(1);
    const message = issues[0]?.message ?? '';
    expect(message).toMatch(/^cycle: t0 → t1 → t2 → /);
    expect(message).toContain('t9999 → t0');
    expect(message.split(' → ')).toHaveLength(count + 1);
  });
});

describe('orchestrator stuck-run guard', () => {
  const node = (id: string, needs: number[], dependents: number[]): GraphNode =>
    graphNode(id, { needs, dependents, run: pass });

  it('ends failed, naming the tasks that can never start, instead of waiting forever', async () => {
    // a and b need each other, which validation would refuse; free runs normally.
    const scope: CompiledScope = {
      prefix: '',
      name: 'stuck',
      nodes: [node('a', [1], [1]), node('b', [0], [0]), node('free', [], [])],
      maxParallel: 0,
      failFast: false,
    };
    const ran: string[] = [];
    const taskLogic = taskMachine.provide({
      actors: {
        runner: fromPromise(async ({ input }) => {
          ran.push(input.node.id);
        }),
      },
    });
    const events: TaskchartEvent[] = [];
    let time = 0;
    const actor = createOrchestrator({
      taskLogic,
      input: {
        scope,
        maxParallel: 0,
        failFast: false,
        now: () => ++time,
        report: (event) => events.push(event),
        cancelReason: () => 'interrupted',
        announce: true,
      },
    });
    const done = toPromise(actor);
    actor.start();
    actor.send({ type: 'run.begin' });
    const output = await done;

    expect(output.status).toBe('failed');
    expect(output.error).toMatch(/2 task\(s\) can never start: a, b$/);
    expect(ran).toEqual(['free']);
    expect(trace(events)).toEqual(['run started', 'started free', 'done free']);
  });
});
