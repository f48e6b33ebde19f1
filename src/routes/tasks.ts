import { Hono } from 'hono';
import * as z from 'zod';
import { FhirError, invalidBody } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';
import { ACTIONS, type Action, actOnReferral } from '../referrals/referral-actions.ts';
import type { TaskDeps } from '../referrals/task-transition.ts';
import { patchTask, updateTask } from '../referrals/update-task.ts';
import { type FhirFeature, updateRoute } from './feature.ts';

const ActionBody = z
  .object({
    reason: z.string().trim().min(1).max(1000).optional(),
    businessStatus: z.string().trim().min(1).max(64).optional(),
    note: z.string().trim().min(1).max(4000).optional(),
  })
  .strict();

/**
 * The referral's progress: its Task updated as FHIR (`PUT`/`PATCH` with `If-Match`), or moved on
 * by plain operations on the referral (`POST /referrals/{id}/$accept`, `$decline`, ...).
 */
export function taskRoutes(deps: TaskDeps): { fhir: FhirFeature; json: Hono<AppEnv> } {
  const fhir = new Hono<AppEnv>()
    .put(
      '/Task/:id',
      updateRoute(async (ctx, id, body, ifMatch) => (await updateTask(deps, ctx, id, body, ifMatch)).task),
    )
    .patch(
      '/Task/:id',
      updateRoute(async (ctx, id, body, ifMatch) => (await patchTask(deps, ctx, id, body, ifMatch)).task),
    );

  const json = new Hono<AppEnv>().post('/referrals/:id/:operation{\\$[a-z]+}', async (c) => {
    const action = c.req.param('operation').slice(1);
    if (!Object.hasOwn(ACTIONS, action)) {
      throw new FhirError('not-found', [
        {
          code: 'not-supported',
          diagnostics: `Unknown operation; the referral operations are ${Object.keys(ACTIONS)
            .map((a) => `$${a}`)
            .join(', ')}`,
        },
      ]);
    }
    const parsed = ActionBody.safeParse(c.get('body') ?? {});
    if (!parsed.success) throw invalidBody(parsed.error);
    const { task, serviceRequest } = await actOnReferral(
      deps,
      c.get('ctx'),
      c.req.param('id'),
      action as Action,
      parsed.data,
    );
    const fhirBase = `${c.get('baseUrl')}/fhir`;
    return c.json(
      {
        status: task.status,
        businessStatus: task.businessStatus?.coding?.[0]?.code,
        task: { id: task.id, versionId: task.meta?.versionId, location: `${fhirBase}/Task/${task.id}` },
        serviceRequest: { id: serviceRequest.id, status: serviceRequest.status },
      },
      200,
      { ETag: `W/"${task.meta?.versionId}"` },
    );
  });

  return {
    fhir: { routes: fhir, capabilities: [{ type: 'Task', interactions: ['update', 'patch'] }] },
    json,
  };
}
