import type { Task } from '@medplum/fhirtypes';
import type { RequestContext } from '../auth/principal.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { beginUpdate, patched, replacementOf } from '../workflow/versioned-update.ts';
import { type TaskDeps, type TaskResult, transition } from './task-transition.ts';

/** What a client may change on a referral Task; everything else is the referral's and stays. */
const MUTABLE = [
  'status',
  'businessStatus',
  'statusReason',
  'note',
  'executionPeriod',
  'lastModified',
] as const;
/** Server-kept parts a client's copy may carry or omit without it counting as a change. */
const SERVER_KEPT = ['meta', 'text', 'output'] as const;

/** `PUT /fhir/Task/{id}` with `If-Match`: the whole Task, of which only the progress may change. */
export async function updateTask(
  deps: TaskDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<TaskResult> {
  const next = replacementOf<Task>('Task', id, body);
  const { stored } = await beginUpdate<Task>(deps.store, ctx, 'Task', id, ifMatch);
  checkOnlyProgressChanged(stored, next);
  return transition(deps, ctx, stored, next);
}

/** `PATCH /fhir/Task/{id}` (JSON Patch) with `If-Match`. */
export async function patchTask(
  deps: TaskDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<TaskResult> {
  const { stored } = await beginUpdate<Task>(deps.store, ctx, 'Task', id, ifMatch);
  const next = patched(stored, body);
  checkOnlyProgressChanged(stored, next);
  return transition(deps, ctx, stored, next);
}

function checkOnlyProgressChanged(stored: Task, next: Task): void {
  const fixed = (task: Task) => {
    const copy: Record<string, unknown> = { ...task };
    for (const key of [...MUTABLE, ...SERVER_KEPT]) delete copy[key];
    return copy;
  };
  const before = fixed(stored);
  const after = fixed(next);
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .sort();
  if (changed.length) {
    throw new FhirError('invalid', [
      {
        code: 'business-rule',
        diagnostics: `Only the referral's progress (${MUTABLE.join(', ')}) can change on its Task`,
        expression: changed.map((key) => `Task.${key}`),
      },
    ]);
  }
}
