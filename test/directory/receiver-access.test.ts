import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { all, exampleBody } from '../support/referrals.ts';
import { charity, createdId, directoryApp, organisation, service } from './support.ts';

const labels = (patient: Patient | undefined) =>
  (patient?.meta?.security ?? [])
    .filter((c) => c.system === OWN_SYSTEM.organisationAccess)
    .map((c) => c.code);

describe('a referral naming a person already on record, rather than sending them', () => {
  it('lets the receiving service see the person, by identifier or by reference', async () => {
    const d = await directoryApp();
    // The person is on record from a first referral, to the example service.
    const first = await d.as(d.gp, '/fhir', {
      method: 'POST',
      body: exampleBody('01-gp-transaction-bundle.200'),
    });
    expect(first.status).toBe(200);
    const [patient] = await all<Patient>(d.store, 'Patient');
    const nhs = patient?.identifier?.[0]?.value as string;
    expect(labels(patient).sort()).toEqual(['B99901', 'SPX01']);

    // Another social prescribing service joins the directory.
    const org = await createdId(
      await d.post('Organization', organisation('SPX77', 'Northside Social Prescribing (example)')),
    );
    await createdId(await d.post('HealthcareService', service(org, 'Northside link workers')));
    await createdId(await d.post('Organization', charity('8001')));

    const single = (identifier: string, subject: object) => {
      const body = exampleBody<Record<string, unknown>>('06-single-service-request.201');
      const text = JSON.stringify(body)
        .replaceAll('"SPX01"', '"SPX77"')
        .replaceAll('9990000026', nhs)
        .replaceAll('RMP-2026-000106', identifier);
      const sr = JSON.parse(text);
      sr.contained[0].patient = subject;
      return { ...sr, subject };
    };
    const byIdentifier = await d.as(d.gp, '/fhir/ServiceRequest', {
      method: 'POST',
      body: single('NORTH-1', { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs } }),
    });
    expect(byIdentifier.status).toBe(201);
    expect(labels((await all<Patient>(d.store, 'Patient'))[0]).sort()).toEqual(['B99901', 'SPX01', 'SPX77']);

    // By reference, to two more services at once: each gains sight of the person, nobody is refused.
    for (const ods of ['SPX78', 'SPX79']) {
      const id = await createdId(await d.post('Organization', organisation(ods, `Service ${ods} (example)`)));
      await createdId(await d.post('HealthcareService', service(id, `Link workers ${ods}`)));
    }
    const byReference = (ods: string) => {
      const body = single(`REF-${ods}`, { reference: `Patient/${patient?.id}` });
      return d.as(d.gp, '/fhir/ServiceRequest', {
        method: 'POST',
        body: JSON.parse(JSON.stringify(body).replaceAll('"SPX77"', `"${ods}"`)),
      });
    };
    const answers = await Promise.all([byReference('SPX78'), byReference('SPX79')]);
    expect(answers.map((r) => r.status)).toEqual([201, 201]);
    const [after] = await all<Patient>(d.store, 'Patient');
    expect(labels(after).sort()).toEqual(['B99901', 'SPX01', 'SPX77', 'SPX78', 'SPX79']);
    // Sent again: the same answer, and the record is not written again.
    expect((await byReference('SPX78')).status).toBe(200);
    expect((await all<Patient>(d.store, 'Patient'))[0]?.meta?.versionId).toBe(after?.meta?.versionId);
  });
});
