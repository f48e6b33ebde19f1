import type { Bundle } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { remoteStore } from '../support/remote-medplum.ts';
import { category, charity, createdId, directoryApp, place, service } from './support.ts';

/**
 * The directory against a remote Medplum that does not support `near` (it refuses the parameter,
 * as a server without it may): registering, searching and `near` all work, the facade never
 * asking the store for `near`.
 */
describe('the directory on a remote Medplum without near support', () => {
  it('registers, finds by category with includes, and answers near itself, paged', async () => {
    const fake = fakeMedplum('https://medplum.test/');
    server.use(
      http.get('https://medplum.test/fhir/R4/Location', ({ request }) =>
        new URL(request.url).searchParams.has('near')
          ? HttpResponse.json(
              {
                resourceType: 'OperationOutcome',
                issue: [
                  { severity: 'error', code: 'invalid', details: { text: 'Unknown search parameter: near' } },
                ],
              },
              { status: 400 },
            )
          : undefined,
      ),
      ...medplumHandlers(fake),
    );
    const d = await directoryApp({ store: remoteStore(fake) });
    const org = await createdId(await d.post('Organization', charity('4001', 'Leeds Walkers (example)')));
    const places: [string, number, number][] = [
      ['Park Square', 53.7986, -1.5536],
      ['Hyde Park', 53.8125, -1.5705],
      ['Kirkstall Abbey', 53.8216, -1.6049],
    ];
    const ids: string[] = [];
    for (const [name, lat, lng] of places)
      ids.push(await createdId(await d.post('Location', place(name, lat, lng))));
    await createdId(
      await d.post(
        'HealthcareService',
        service(org, 'Riverside walking group', {
          category: [category('physical-activity')],
          location: ids.map((id) => ({ reference: `Location/${id}` })),
        }),
      ),
    );

    const activity =
      'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';
    const byCategory = (await (
      await d.as(
        d.sp,
        `/fhir/HealthcareService?service-category=${activity}|physical-activity&_include=HealthcareService:providedBy&_include=HealthcareService:location`,
      )
    ).json()) as Bundle;
    expect(
      byCategory.entry
        ?.filter((e) => e.search?.mode === 'include')
        .map((e) => e.resource?.resourceType)
        .sort(),
    ).toEqual(['Location', 'Location', 'Location', 'Organization']);

    const first = await d.as(
      d.sp,
      '/fhir/Location?near=53.7997|-1.5492|10|km&_count=2&_revinclude=HealthcareService:location',
    );
    expect(first.status).toBe(200);
    const page = (await first.json()) as Bundle;
    const names = (b: Bundle) =>
      (b.entry ?? [])
        .filter((e) => e.search?.mode === 'match')
        .map((e) => (e.resource as { name: string }).name);
    expect(names(page)).toEqual(['Park Square', 'Hyde Park']);
    expect(page.total).toBe(3);
    expect(page.entry?.filter((e) => e.search?.mode === 'include')).toHaveLength(1);
    const next = page.link?.find((l) => l.relation === 'next')?.url as string;
    const second = (await (await d.as(d.sp, next.replace('http://facade.test', ''))).json()) as Bundle;
    expect(names(second)).toEqual(['Kirkstall Abbey']);
    expect(fake.seen.some((r) => new URL(r.url).searchParams.has('near'))).toBe(false);
  });
});
