import type { MiddlewareHandler } from 'hono';
import { type RestInteraction, toAuditEvent } from '../audit/audit-event.ts';
import type { AuditSink } from '../audit/audit-sink.ts';
import type { AppEnv } from '../http/env.ts';

/** The REST interaction and resource type a request under /fhir or /referrals is. */
export function interactionOf(method: string, path: string): { interaction: RestInteraction; type?: string } {
  if (path === '/referrals') return { interaction: 'create', type: 'ServiceRequest' };
  if (/^\/referrals\/[^/]+\/care-plan$/.test(path)) return { interaction: 'create', type: 'CarePlan' };
  if (/^\/referrals\/[^/]+\/outcomes$/.test(path)) {
    return { interaction: 'create', type: 'QuestionnaireResponse' };
  }
  if (path.startsWith('/referrals/')) return { interaction: 'operation', type: 'Task' };
  const segments = path
    .replace(/^\/fhir\/?/, '')
    .split('/')
    .filter(Boolean);
  const [type, id, history, version] = segments;
  if (segments.some((s) => s.startsWith('$'))) return { interaction: 'operation', type };
  if (id === '_search') return { interaction: 'search-type', type };
  if (method === 'POST') return type ? { interaction: 'create', type } : { interaction: 'transaction' };
  if (method === 'PUT' || method === 'PATCH') return { interaction: 'update', type };
  if (method === 'DELETE') return { interaction: 'delete', type };
  if (!id) return { interaction: 'search-type', type };
  if (history === '_history') return { interaction: version ? 'vread' : 'history-instance', type };
  return { interaction: 'read', type };
}

/**
 * One AuditEvent per authenticated request, whatever its outcome, handed to the sink after the
 * response is ready; except requests the client's rate limit refused, which touch nothing: the
 * first of them each minute is recorded for that client, the rest are not, so that a flood
 * cannot flood the audit trail too. With an outbox the record is stored durably before the
 * response goes (the write to Medplum happens later); without one, the write is kept alive on
 * Workers with `waitUntil`. The response never waits for Medplum.
 */
export function audit(sink: AuditSink, clock: () => Date): MiddlewareHandler<AppEnv> {
  // The minute each client was last recorded as throttled in; one entry per registered client.
  const throttledIn = new Map<string, number>();
  return async (c, next) => {
    await next();
    const ctx = c.get('ctx');
    if (!ctx) return;
    const recorded = clock();
    if (c.get('throttled')) {
      const minute = Math.floor(recorded.getTime() / 60_000);
      if (throttledIn.get(ctx.principal.clientId) === minute) return;
      throttledIn.set(ctx.principal.clientId, minute);
    }
    const { interaction, type } = interactionOf(c.req.method, c.req.path);
    await sink.record(
      toAuditEvent({
        ctx,
        interaction,
        ...(type ? { resourceType: type } : {}),
        status: c.res.status,
        recorded,
      }),
    );
    const flushing = sink.flush();
    try {
      c.executionCtx.waitUntil(flushing);
    } catch {
      // Not on Workers: the write carries on by itself.
    }
  };
}
