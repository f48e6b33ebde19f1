import type { AuditEvent, Bundle, Organization, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { exampleBody } from '../support/referrals.ts';
import { COMMUNITY, GP, SP, securedApp } from '../support/secured.ts';

describe('a referral journey between two organisations, through real tokens', () => {
  it('the GP refers, the service accepts and writes the plan, the GP follows it; one AuditEvent per request, no patient data in logs', async () => {
    const s = await securedApp({ LOG_LEVEL: 'debug' });
    let requests = 0;
    const as = (token: string, path: string, init?: Parameters<typeof s.as>[2]) => {
      requests++;
      return s.as(token, path, init);
    };
    const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
    const sp = await s.token(SP, 'system/*.rs system/Task.rus system/CarePlan.cruds');
    const community = await s.token(COMMUNITY, 'system/ServiceRequest.c');

    // The GP system sends a referral.
    const sent = await as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') });
    expect(sent.status).toBe(200);
    const locations = ((await sent.json()) as Bundle).entry?.map((e) => e.response?.location ?? '') ?? [];
    const srId = locations.find((l) => l.startsWith('ServiceRequest/'))?.split('/')[1];

    // A community centre sends one by the plain JSON form, as itself.
    const json = await as(community, '/referrals', {
      body: exampleBody('04-plain-json-referral.201'),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(201);

    // The social prescribing service finds the referrals sent to it, with their Tasks.
    const spOrg = ((await (await as(sp, '/fhir/Organization?identifier=SPX01')).json()) as Bundle).entry?.[0]
      ?.resource as Organization;
    const inbox = (await (
      await as(sp, `/fhir/Task?owner=Organization/${spOrg.id}&status=requested&_include=Task:focus`)
    ).json()) as Bundle;
    const tasks = inbox.entry?.filter((e) => e.resource?.resourceType === 'Task') ?? [];
    expect(tasks).toHaveLength(2);
    expect(inbox.entry?.some((e) => e.resource?.id === srId)).toBe(true);
    expect((await as(sp, `/fhir/ServiceRequest/${srId}`)).status).toBe(200);

    // The service accepts the referral and writes the care plan with the person.
    const accepted = await as(sp, `/referrals/${srId}/$accept`, {
      body: { businessStatus: 'contacted' },
      headers: { 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(200);
    const plan = await as(sp, `/referrals/${srId}/care-plan`, {
      body: {
        whatMattersToMe: 'Meeting people nearby',
        author: { name: 'Sam' },
        goals: [{ description: 'Join a lunch club' }],
        activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
        careTeam: [{ name: 'Sam', role: 'link-worker' }],
      },
      headers: { 'content-type': 'application/json' },
    });
    expect(plan.status).toBe(201);

    // The GP sees where its referral stands, and only its own.
    const status = (await (await as(gp, `/fhir/Task?focus=ServiceRequest/${srId}`)).json()) as Bundle;
    expect((status.entry?.[0]?.resource as Task | undefined)?.status).toBe('accepted');
    const patientId = (status.entry?.[0]?.resource as Task | undefined)?.for?.reference?.split('/')[1];
    const summary = (await (
      await as(gp, `/fhir/Patient/${patientId}/$social-prescribing-summary`)
    ).json()) as Bundle;
    expect(summary.entry?.some((e) => e.resource?.resourceType === 'CarePlan')).toBe(true);
    const mine = (await (await as(gp, '/fhir/ServiceRequest')).json()) as Bundle;
    expect(mine.total).toBe(1);
    // The community centre may send, not read.
    expect((await as(community, `/fhir/ServiceRequest/${srId}`)).status).toBe(403);

    await s.audit.flush();
    const events =
      ((await s.store.search('AuditEvent', { _count: '100' })) as Bundle<AuditEvent>).entry ?? [];
    expect(events).toHaveLength(requests);
    const requestIds = events.map((e) => e.resource?.entity?.[0]?.what?.identifier?.value);
    expect(new Set(requestIds).size).toBe(requests);

    const logs = s.logs.join('\n');
    expect(logs).toContain('request');
    for (const patientData of [
      '9990000018',
      '9990000034',
      '999 000 0034',
      'Okafor',
      'Grace',
      'Rahman',
      'Amir',
      '1948-03-02',
      '07700',
    ]) {
      expect(logs).not.toContain(patientData);
    }
  });
});
