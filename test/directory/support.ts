import type { HealthcareService, Location, Organization } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM, SYSTEM } from '../../src/fhir/systems.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { GP, type SecuredApp, SP, securedApp } from '../support/secured.ts';

export const DIRECTORY = 'riverside-directory-admin';
export const DIRECTORY_SCOPES = 'system/Organization.crus system/HealthcareService.crus system/Location.crus';
export const ACTIVITY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';

export interface DirectoryApp extends SecuredApp {
  admin: string;
  gp: string;
  sp: string;
  /** Posts as the directory client; answers the response. */
  post(type: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

export async function directoryApp(options: Parameters<typeof securedApp>[1] = {}): Promise<DirectoryApp> {
  const s = await securedApp({}, options);
  const admin = await s.token(DIRECTORY, DIRECTORY_SCOPES);
  const gp = await s.token(GP, 'system/ServiceRequest.crs system/Task.u system/*.rs');
  const sp = await s.token(SP, 'system/*.rs system/CarePlan.cruds system/Task.rus');
  return {
    ...s,
    admin,
    gp,
    sp,
    post: (type, body, headers = {}) => s.as(admin, `/fhir/${type}`, { method: 'POST', body, headers }),
  };
}

export const organisation = (ods: string, name = 'Leeds Walking Club (example)'): Organization => ({
  resourceType: 'Organization',
  active: true,
  name,
  identifier: [{ system: SYSTEM.odsOrganization, value: ods }],
});

export const charity = (number: string, name = 'Befriending Leeds (example)'): Organization => ({
  resourceType: 'Organization',
  active: true,
  name,
  identifier: [{ system: DIRECTORY_SYSTEM.charityNumber, value: number }],
});

export const service = (
  organizationId: string,
  name: string,
  extra: Partial<HealthcareService> = {},
): HealthcareService => ({
  resourceType: 'HealthcareService',
  active: true,
  name,
  providedBy: { reference: `Organization/${organizationId}` },
  ...extra,
});

export const place = (
  name: string,
  latitude: number,
  longitude: number,
  extra: Partial<Location> = {},
): Location => ({
  resourceType: 'Location',
  name,
  status: 'active',
  position: { latitude, longitude },
  ...extra,
});

export const category = (code: string) => ({ coding: [{ system: ACTIVITY, code }] });

/** The id of what a create answered with. */
export async function createdId(response: Response): Promise<string> {
  if (response.status !== 201)
    throw new Error(`expected 201, got ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/**
 * An embedded store that fails as Medplum would while `failure` is set: every call but audit
 * records and the readiness ping throws it.
 */
export function switchableStore(): { store: FhirStore; fail(failure: UpstreamFailure | undefined): void } {
  const inner = createEmbeddedStore({ timeoutMs: 5_000 }).store;
  let failure: UpstreamFailure | undefined;
  const store = new Proxy(inner, {
    get(target, name: keyof FhirStore) {
      const fn = target[name] as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const audit = (args[0] as { resourceType?: string })?.resourceType === 'AuditEvent';
        if (failure && !audit && name !== 'ping') throw new UpstreamError(failure);
        return fn.apply(target, args);
      };
    },
  });
  return {
    store,
    fail: (next) => {
      failure = next;
    },
  };
}
