import type { Bundle, HealthcareService, OperationOutcome } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_SYSTEM, SYSTEM } from '../../src/fhir/systems.ts';
import { expectOutcome } from '../support/app.ts';
import { counts, exampleBody } from '../support/referrals.ts';
import {
  category,
  charity,
  createdId,
  DIRECTORY,
  directoryApp,
  organisation,
  place,
  service,
  switchableStore,
} from './support.ts';

/** The GP's example referral sent to another service, under its own identifier. */
const referralTo = (ods: string, n: number) =>
  JSON.parse(
    JSON.stringify(exampleBody('01-gp-transaction-bundle.200'))
      .replaceAll('"SPX01"', `"${ods}"`)
      .replaceAll('RMP-2026-000101', `DIR-${n}`),
  ) as Bundle;

describe('registering the directory through the API', () => {
  it('makes a service known at once: a referral to it is accepted, and refused once it is deactivated', async () => {
    const d = await directoryApp();
    const send = (n: number) => d.as(d.gp, '/fhir', { method: 'POST', body: referralTo('SPX77', n) });
    await expectOutcome(await send(1), 422, 'not-found');

    const orgId = await createdId(
      await d.post('Organization', organisation('SPX77', 'Northside Social Prescribing (example)')),
    );
    const created = await d.post(
      'HealthcareService',
      service(orgId, 'Northside link workers', { category: [category('social-connection')] }),
    );
    expect(created.status).toBe(201);
    const registered = (await created.json()) as HealthcareService;
    expect(created.headers.get('location')).toMatch(
      new RegExp(`/fhir/HealthcareService/${registered.id}/_history/${registered.meta?.versionId}$`),
    );
    expect(created.headers.get('etag')).toBe(`W/"${registered.meta?.versionId}"`);
    expect((await send(2)).status).toBe(200);

    // Deactivated: new referrals are refused, saying why; the open one stays.
    const put = await d.as(d.admin, `/fhir/HealthcareService/${registered.id}`, {
      method: 'PUT',
      body: { ...registered, active: false },
      headers: { 'if-match': `W/"${registered.meta?.versionId}"` },
    });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).not.toBe(`W/"${registered.meta?.versionId}"`);
    const refused = await expectOutcome(await send(3), 422, 'business-rule');
    expect(JSON.stringify(refused)).toContain('marked inactive in the directory');
    const open = await d.as(d.gp, '/fhir/ServiceRequest?identifier=DIR-2');
    const found = (await open.json()) as Bundle;
    expect(found.entry?.[0]?.resource).toMatchObject({ status: 'active' });
  });

  it('registers organisations by charity number, places with a position, services at them', async () => {
    const d = await directoryApp();
    const orgId = await createdId(await d.post('Organization', charity('1122334')));
    const hallId = await createdId(
      await d.post(
        'Location',
        place('St Mark’s Hall', 53.8008, -1.5491, {
          managingOrganization: { reference: `Organization/${orgId}` },
        }),
      ),
    );
    const stored = await d.as(d.sp, `/fhir/Location/${hallId}`);
    expect(stored.status).toBe(200);
    const hall = (await stored.json()) as { meta?: { tag?: { system: string; code: string }[] } };
    // Tagged with the cells holding it, largest to smallest, for near searches.
    expect(hall.meta?.tag?.map((t) => t.code)).toEqual([
      'gc',
      'gcw',
      'gcwf',
      'gcwfh',
      expect.stringMatching(/^gcwfh./),
    ]);
    const serviceId = await createdId(
      await d.post(
        'HealthcareService',
        service(orgId, 'Tuesday befriending café', {
          location: [{ reference: `Location/${hallId}` }],
          category: [category('social-connection')],
        }),
      ),
    );
    const read = await d.as(d.gp, `/fhir/HealthcareService/${serviceId}`);
    expect(((await read.json()) as HealthcareService).location?.[0]?.reference).toBe(`Location/${hallId}`);
  });

  it('creates conditionally on an identifier, and never a second entry with the same one', async () => {
    const d = await directoryApp();
    const first = await d.post('Organization', charity('555'));
    expect(first.status).toBe(201);
    const id = ((await first.json()) as { id: string }).id;
    const matched = await d.post('Organization', charity('555'), {
      'if-none-exist': `identifier=${DIRECTORY_SYSTEM.charityNumber}|555`,
    });
    expect(matched.status).toBe(200);
    expect(((await matched.json()) as { id: string }).id).toBe(id);
    const duplicate = await expectOutcome(
      await d.post('Organization', charity('555', 'Another name')),
      409,
      'duplicate',
    );
    expect(JSON.stringify(duplicate)).toContain(`Organization/${id}`);
    // Under the other spelling of the ODS system too.
    await createdId(await d.post('Organization', organisation('QQ1')));
    const alt = organisation('QQ1');
    alt.identifier = [{ system: SYSTEM.odsOrganisationAlt, value: 'QQ1' }];
    await expectOutcome(await d.post('Organization', alt), 409, 'duplicate');
    // Concurrent registrations of one organisation: one entry.
    const before = (await counts(d.store)).Organization ?? 0;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => d.post('Organization', charity('777'))),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect((await counts(d.store)).Organization).toBe(before + 1);
  });

  it('changes an entry with a JSON Patch, holding to If-Match', async () => {
    const d = await directoryApp();
    const created = await d.post('Location', place('Community garden', 53.79, -1.53));
    const { id, meta } = (await created.json()) as { id: string; meta: { versionId: string } };
    const version = `W/"${meta.versionId}"`;
    const patch = [{ op: 'replace', path: '/position', value: { latitude: 53.81, longitude: -1.56 } }];
    const patchAs = (token: string, ifMatch?: string) =>
      d.as(token, `/fhir/Location/${id}`, {
        method: 'PATCH',
        body: patch,
        headers: {
          'content-type': 'application/json-patch+json',
          ...(ifMatch ? { 'if-match': ifMatch } : {}),
        },
      });
    await expectOutcome(await patchAs(d.admin), 428);
    const changed = await patchAs(d.admin, version);
    expect(changed.status).toBe(200);
    const body = (await changed.json()) as {
      position: { latitude: number };
      meta: { tag: { code: string }[] };
    };
    expect(body.position.latitude).toBe(53.81);
    expect(body.meta.tag).toHaveLength(5);
    await expectOutcome(await patchAs(d.admin, version), 412);
  });
});

describe('what the directory refuses', () => {
  it('refuses every directory write from a client without directory scopes, and stores nothing', async () => {
    const d = await directoryApp();
    const orgId = await createdId(await d.post('Organization', charity('42')));
    const before = await counts(d.store);
    for (const token of [d.gp, d.sp]) {
      for (const [type, body] of [
        ['Organization', charity('43')],
        ['HealthcareService', service(orgId, 'Walks')],
        ['Location', place('Park', 53.8, -1.5)],
      ] as const) {
        await expectOutcome(await d.as(token, `/fhir/${type}`, { method: 'POST', body }), 403, 'forbidden');
      }
      const org = { ...charity('42'), id: orgId };
      await expectOutcome(
        await d.as(token, `/fhir/Organization/${orgId}`, {
          method: 'PUT',
          body: org,
          headers: { 'if-match': 'W/"1"' },
        }),
        403,
        'forbidden',
      );
      await expectOutcome(
        await d.as(token, `/fhir/Organization/${orgId}`, {
          method: 'PATCH',
          body: [{ op: 'replace', path: '/name', value: 'x' }],
          headers: { 'content-type': 'application/json-patch+json', 'if-match': 'W/"1"' },
        }),
        403,
        'forbidden',
      );
    }
    // A narrower directory scope: services only.
    const servicesOnly = await d.token('riverside-directory-admin', 'system/HealthcareService.crus');
    await expectOutcome(
      await d.as(servicesOnly, '/fhir/Location', { method: 'POST', body: place('Park', 53.8, -1.5) }),
      403,
    );
    expect(await counts(d.store)).toEqual(before);
  });

  it('answers a create the token may not read back with what was stored, not the entry', async () => {
    const d = await directoryApp();
    const createOnly = await d.token(DIRECTORY, 'system/Organization.c');
    const response = await d.as(createOnly, '/fhir/Organization', { method: 'POST', body: charity('61') });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toMatch(/\/fhir\/Organization\//);
    const outcome = (await response.json()) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.code).toBe('suppressed');
    expect(JSON.stringify(outcome)).not.toContain('Befriending');
  });

  it('refuses a bad entry with the whole OperationOutcome, storing nothing', async () => {
    const d = await directoryApp();
    const orgId = await createdId(await d.post('Organization', charity('9')));
    const before = await counts(d.store);
    const nameless = await expectOutcome(
      await d.post('Organization', { resourceType: 'Organization', active: true }),
      422,
    );
    const said = (nameless as OperationOutcome).issue.map((i) => i.expression?.[0]);
    expect(said).toEqual(expect.arrayContaining(['Organization.name', 'Organization.identifier']));
    const far = await expectOutcome(await d.post('Location', place('Nowhere', 100, 101)), 422);
    expect(JSON.stringify(far)).toContain('sp-location-1');
    const uncategorised = await expectOutcome(
      await d.post(
        'HealthcareService',
        service(orgId, 'Walks', { category: [{ coding: [{ system: 'http://example.org', code: 'x' }] }] }),
      ),
      422,
    );
    expect(JSON.stringify(uncategorised)).toContain('category');
    const orphan = await expectOutcome(
      await d.post('HealthcareService', service('no-such-org', 'Walks')),
      422,
      'not-found',
    );
    expect((orphan as OperationOutcome).issue[0]?.expression).toEqual(['HealthcareService.providedBy']);
    const nowhere = await expectOutcome(
      await d.post(
        'HealthcareService',
        service(orgId, 'Walks', {
          location: [{ reference: 'Location/none' }, { reference: 'https://elsewhere.example/Location/1' }],
        }),
      ),
      422,
    );
    const at = (nowhere as OperationOutcome).issue.map((i) => i.expression?.[0]);
    expect(at.sort()).toEqual(['HealthcareService.location[0]', 'HealthcareService.location[1]']);
    // An id list where one id belongs: never taken for the one it starts with.
    await expectOutcome(await d.post('HealthcareService', service(`${orgId},x`, 'Walks')), 422);
    await expectOutcome(
      await d.post('Location', { resourceType: 'Location', name: 'x', colour: 'red' }),
      400,
    );
    await expectOutcome(await d.post('Location', { resourceType: 'Organization', name: 'x' }), 400);
    await expectOutcome(await d.post('Location', [1, 2]), 400);
    expect(await counts(d.store)).toEqual(before);
  });

  it('answers 503/504 when Medplum fails during a directory write, never 4xx', async () => {
    const { store, fail } = switchableStore();
    const d = await directoryApp({ store });
    const orgId = await createdId(await d.post('Organization', charity('31')));
    fail('timeout');
    await expectOutcome(await d.post('Organization', charity('32')), 504);
    await expectOutcome(await d.post('HealthcareService', service(orgId, 'Walks')), 504);
    await expectOutcome(await d.post('Location', place('Park', 53.8, -1.5)), 504);
    await expectOutcome(
      await d.as(d.admin, `/fhir/Organization/${orgId}`, {
        method: 'PUT',
        body: { ...charity('31'), id: orgId },
        headers: { 'if-match': 'W/"1"' },
      }),
      504,
    );
    await expectOutcome(await d.as(d.gp, '/fhir/Location?near=53.8|-1.5|5|km'), 504);
  });
});
