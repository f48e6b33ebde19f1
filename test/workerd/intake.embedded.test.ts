import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import referral from '../../examples/referrals/01-gp-transaction-bundle.200.request.json';
import { tokenFor } from './token.ts';

interface Entry {
  response: { status: string; location: string };
}

describe('referral intake in workerd, against an embedded Medplum', () => {
  it('stores a GP referral once and answers its retry with the same resources', async () => {
    const authorization = `Bearer ${await tokenFor('riverside-medical-gp-system', 'system/ServiceRequest.crs system/*.rs')}`;
    const post = () =>
      SELF.fetch('https://facade.test/fhir', {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization },
        body: JSON.stringify(referral.body),
      });
    const first = await post();
    expect(first.status).toBe(200);
    const created = (await first.json()) as { entry: Entry[] };
    expect(created.entry.map((e) => e.response.status)).toContain('201 Created');
    const srLocation = created.entry[6]?.response.location.split('/_history')[0];

    const again = (await (await post()).json()) as { entry: Entry[] };
    expect(again.entry.every((e) => e.response.status === '200 OK')).toBe(true);
    expect(again.entry[6]?.response.location.split('/_history')[0]).toBe(srLocation);

    const tasks = (await (
      await SELF.fetch(`https://facade.test/fhir/Task?focus=${srLocation}`, { headers: { authorization } })
    ).json()) as {
      entry: { resource: { status: string } }[];
    };
    expect(tasks.entry).toHaveLength(1);
    expect(tasks.entry[0]?.resource.status).toBe('requested');
  });
});
