import type { Bundle, Organization, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, expectOutcome } from '../support/app.ts';
import { exampleBody, idInAnswer, postBundle, seededApp } from '../support/referrals.ts';

const SUBSETTED = (r: { meta?: { tag?: { code?: string }[] } }) =>
  r.meta?.tag?.some((t) => t.code === 'SUBSETTED');

async function withReferral() {
  const test = await seededApp();
  const sent = (await (
    await postBundle(test.app, exampleBody('01-gp-transaction-bundle.200'))
  ).json()) as Bundle;
  return { ...test, srId: idInAnswer(sent, 'ServiceRequest'), patientId: idInAnswer(sent, 'Patient') };
}

describe('_summary and _elements', () => {
  it('on a read: only the named elements, tagged SUBSETTED', async () => {
    const { app, patientId } = await withReferral();
    const patient = await (await call(app, `/fhir/Patient/${patientId}?_elements=birthDate`)).json();
    expect(Object.keys(patient).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
    expect(SUBSETTED(patient)).toBe(true);
    const summary = await (await call(app, `/fhir/Patient/${patientId}?_summary=true`)).json();
    expect(summary.identifier).toBeDefined();
    expect(summary.address).toBeDefined();
    expect(SUBSETTED(summary)).toBe(true);
    const whole = await (await call(app, `/fhir/Patient/${patientId}`)).json();
    expect(SUBSETTED(whole)).toBeFalsy();
  });

  it('on a search: count alone, or subsetted matches', async () => {
    const { app } = await withReferral();
    const count = (await (await call(app, '/fhir/Organization?_summary=count')).json()) as Bundle;
    expect(count.total).toBeGreaterThan(1);
    expect(count.entry).toBeUndefined();
    const names = (await (await call(app, '/fhir/Organization?_elements=name')).json()) as Bundle;
    for (const entry of names.entry ?? []) {
      const org = entry.resource as Organization;
      expect(org.identifier).toBeUndefined();
      expect(org.name).toBeDefined();
      expect(SUBSETTED(org)).toBe(true);
    }
  });

  it('refuses what it cannot do', async () => {
    const { app, patientId } = await withReferral();
    await expectOutcome(await call(app, `/fhir/Patient/${patientId}?_summary=maybe`), 400, 'invalid');
    await expectOutcome(await call(app, `/fhir/Patient/${patientId}?_summary=count`), 400, 'invalid');
    await expectOutcome(await call(app, '/fhir/Organization?_summary=true&_elements=name'), 400, 'invalid');
  });
});

describe('conditional reads', () => {
  it('If-Modified-Since not before the last change answers 304', async () => {
    const { app, patientId } = await withReferral();
    const read = await call(app, `/fhir/Patient/${patientId}`);
    const lastModified = read.headers.get('last-modified') as string;
    expect(
      (await call(app, `/fhir/Patient/${patientId}`, { headers: { 'if-modified-since': lastModified } }))
        .status,
    ).toBe(304);
    const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect(
      (await call(app, `/fhir/Patient/${patientId}`, { headers: { 'if-modified-since': before } })).status,
    ).toBe(200);
  });
});

describe('_history', () => {
  async function movedTask() {
    const test = await withReferral();
    for (const op of ['$accept', '$start', '$hold', '$resume']) {
      const body = op === '$hold' ? { reason: 'Away' } : undefined;
      expect(
        (await call(test.app, `/referrals/${test.srId}/${op}`, { method: 'POST', ...(body ? { body } : {}) }))
          .status,
      ).toBe(200);
    }
    const task = (
      (await (await call(test.app, `/fhir/Task?focus=ServiceRequest/${test.srId}`)).json()) as Bundle
    ).entry?.[0]?.resource as Task;
    return { ...test, taskId: task.id as string };
  }

  it('every entry says how its version was made (bdl-3, bdl-4)', async () => {
    const { app, taskId } = await movedTask();
    const history = (await (await call(app, `/fhir/Task/${taskId}/_history`)).json()) as Bundle;
    expect(history.total).toBe(5);
    expect(history.entry?.map((e) => e.request?.method)).toEqual(['PUT', 'PUT', 'PUT', 'PUT', 'POST']);
    expect(history.entry?.map((e) => e.response?.status)).toEqual([
      '200 OK',
      '200 OK',
      '200 OK',
      '200 OK',
      '201 Created',
    ]);
    for (const entry of history.entry ?? [])
      expect(entry.response?.etag).toBe(`W/"${entry.resource?.meta?.versionId}"`);
  });

  it('pages by _count, with links that follow', async () => {
    const { app, taskId } = await movedTask();
    const first = (await (await call(app, `/fhir/Task/${taskId}/_history?_count=2`)).json()) as Bundle;
    expect(first.entry).toHaveLength(2);
    expect(first.total).toBe(5);
    const seen = [...(first.entry ?? [])];
    let next = first.link?.find((l) => l.relation === 'next')?.url;
    while (next) {
      const page = (await (await call(app, new URL(next).pathname + new URL(next).search)).json()) as Bundle;
      seen.push(...(page.entry ?? []));
      next = page.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(new Set(seen.map((e) => e.resource?.meta?.versionId)).size).toBe(5);
  });

  it('narrows by _since and _at, and refuses what it does not know', async () => {
    const { app, taskId } = await movedTask();
    const all = (await (await call(app, `/fhir/Task/${taskId}/_history`)).json()) as Bundle;
    const times = all.entry?.map((e) => e.resource?.meta?.lastUpdated as string) ?? [];
    const since = (await (
      await call(app, `/fhir/Task/${taskId}/_history?_since=${times[1]}`)
    ).json()) as Bundle;
    expect(since.entry?.every((e) => (e.resource?.meta?.lastUpdated as string) >= (times[1] as string))).toBe(
      true,
    );
    const at = (await (await call(app, `/fhir/Task/${taskId}/_history?_at=${times[4]}`)).json()) as Bundle;
    expect(at.entry?.map((e) => e.resource?.meta?.versionId)).toEqual([
      all.entry?.[4]?.resource?.meta?.versionId,
    ]);
    await expectOutcome(await call(app, `/fhir/Task/${taskId}/_history?_since=yesterday`), 400, 'invalid');
    await expectOutcome(await call(app, `/fhir/Task/${taskId}/_history?_list=x`), 400, 'invalid');
  });
});

describe('search by POST', () => {
  it('takes the parameters as a form, with those of the URL', async () => {
    const { app } = await withReferral();
    const response = await app.request('http://facade.test/fhir/Organization/_search?_count=1', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'identifier=https://fhir.nhs.uk/Id/ods-organization-code|SPX01',
    });
    expect(response.status).toBe(200);
    const bundle = (await response.json()) as Bundle;
    expect(bundle.entry).toHaveLength(1);
    expect((bundle.entry?.[0]?.resource as Organization | undefined)?.identifier?.[0]?.value).toBe('SPX01');
    const wrong = await app.request('http://facade.test/fhir/Organization/_search', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(wrong.status).toBe(415);
  });
});

describe('what is not served is said so', () => {
  it('history of a whole type is refused as not supported, not read as an id', async () => {
    const { app } = await withReferral();
    const outcome = await expectOutcome(await call(app, '/fhir/Task/_history'), 404, 'not-supported');
    expect(outcome.issue[0].diagnostics).toContain('History of a whole type');
  });

  it('_pretty=true indents the answer', async () => {
    const { app } = await withReferral();
    expect(await (await call(app, '/fhir/Organization?_pretty=true')).text()).toContain('\n  "resourceType"');
    expect(await (await call(app, '/fhir/Organization')).text()).not.toContain('\n');
  });
});

describe('search by POST is bounded', () => {
  it('refuses a form over 16 KiB, and one of more than 100 parameters', async () => {
    const { app } = await withReferral();
    const post = (body: string) =>
      app.request('http://facade.test/fhir/ValueSet/_search', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    expect((await post(`url=${'x'.repeat(20_000)}`)).status).toBe(413);
    const many = Array.from({ length: 101 }, (_, i) => `url=u${i}`).join('&');
    expect((await post(many)).status).toBe(400);
    expect((await post('url=u1')).status).toBe(200);
  });
});
