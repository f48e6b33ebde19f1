import type { Bundle, Provenance, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UpstreamError } from '../../src/medplum/errors.ts';
import { call } from '../support/app.ts';
import { all, exampleBody, idInAnswer, postBundle, seededApp, withLatency } from '../support/referrals.ts';

describe('plain operations are idempotent', () => {
  it('50 concurrent $accept calls on one referral all answer accepted, and write one version and one Provenance', async () => {
    const { app, store } = await seededApp(
      {},
      { store: withLatency(createEmbeddedStore({ timeoutMs: 5_000 }).store) },
    );
    const sent = (await (
      await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))
    ).json()) as Bundle;
    const srId = idInAnswer(sent, 'ServiceRequest');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call(app, `/referrals/${srId}/$accept`, { method: 'POST' })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    const [task] = await all<Task>(store, 'Task');
    const history = await store.history('Task', task?.id as string);
    expect(history.entry?.length).toBe(2);
    const moves = (await all<Provenance>(store, 'Provenance')).filter((p) =>
      p.activity?.coding?.some((c) => c.code === 'UPDATE'),
    );
    expect(moves).toHaveLength(1);
  });

  it('a move the store applied only in part (Task written, Provenance and ServiceRequest not) is completed by repeating it', async () => {
    const base = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    let cut = false;
    const store = {
      ...base,
      async bundle(bundle: Bundle): Promise<Bundle> {
        const isMove =
          bundle.entry?.[0]?.request?.method === 'PUT' && bundle.entry[0].request.url.startsWith('Task/');
        if (!cut || !isMove) return base.bundle(bundle);
        cut = false;
        await base.bundle({ ...bundle, entry: bundle.entry?.slice(0, 1) });
        throw new UpstreamError('timeout');
      },
    };
    const { app } = await seededApp({}, { store });
    const sent = (await (
      await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))
    ).json()) as Bundle;
    const srId = idInAnswer(sent, 'ServiceRequest');
    expect((await call(app, `/referrals/${srId}/$accept`, { method: 'POST' })).status).toBe(200);
    cut = true;
    expect((await call(app, `/referrals/${srId}/$complete`, { method: 'POST' })).status).toBe(504);
    expect((await base.read<ServiceRequest>('ServiceRequest', srId)).status).toBe('active');
    const retry = await call(app, `/referrals/${srId}/$complete`, { method: 'POST' });
    expect(retry.status).toBe(200);
    expect((await base.read<ServiceRequest>('ServiceRequest', srId)).status).toBe('completed');
    const moves = (await all<Provenance>(base, 'Provenance')).filter((p) =>
      p.activity?.coding?.some((c) => c.code === 'UPDATE'),
    );
    expect(moves).toHaveLength(2);
    // Once whole, repeating it writes nothing more.
    expect((await call(app, `/referrals/${srId}/$complete`, { method: 'POST' })).status).toBe(200);
    expect(await all(base, 'Provenance')).toHaveLength(3);
  });
});

describe('plain operations with a note', () => {
  it('a repeated $progress with the same note writes once', async () => {
    const { app, store } = await seededApp();
    const sent = (await (
      await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))
    ).json()) as Bundle;
    const srId = idInAnswer(sent, 'ServiceRequest');
    expect((await call(app, `/referrals/${srId}/$accept`, { method: 'POST' })).status).toBe(200);
    const progress = () =>
      call(app, `/referrals/${srId}/$progress`, {
        body: { businessStatus: 'contacted', note: 'Phoned, will call back' },
        headers: { 'content-type': 'application/json' },
      });
    expect((await progress()).status).toBe(200);
    expect((await progress()).status).toBe(200);
    const [task] = await all<Task>(store, 'Task');
    expect(task?.note?.filter((n) => n.text === 'Phoned, will call back')).toHaveLength(1);
    expect((await store.history('Task', task?.id as string)).entry).toHaveLength(3);
  });
});

describe('search by POST', () => {
  it('is audited as a search and is not held to its X-Request-ID', async () => {
    const { app } = await seededApp();
    const search = (body: string) =>
      app.request('http://facade.test/fhir/Organization/_search', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'same-search' },
        body,
      });
    const first = (await (
      await search('identifier=https://fhir.nhs.uk/Id/ods-organization-code|SPX01')
    ).json()) as Bundle;
    const second = (await (
      await search('identifier=https://fhir.nhs.uk/Id/ods-organization-code|B99901')
    ).json()) as Bundle;
    expect(first.entry?.[0]?.resource?.id).not.toBe(second.entry?.[0]?.resource?.id);
  });
});
