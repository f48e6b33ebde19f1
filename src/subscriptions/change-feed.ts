import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import type { FhirStore } from '../medplum/store.ts';
import { isSubscribable } from './subscription-rules.ts';

/** One stored version of a resource a subscription may watch. */
export interface Change {
  type: string;
  id: string;
  versionId: string;
}

/** Takes the changes of one write; resolved means they are kept durably. */
export type ChangeSink = (changes: Change[]) => void | Promise<void>;

/**
 * The store, with every write of a watched type (Task, ServiceRequest, CarePlan,
 * QuestionnaireResponse) handed to `sink` once the store has it: by create, update, or a batch or
 * transaction. Nothing is matched here; the write path pays for one durable enqueue per write
 * whatever the number of subscriptions, and matching happens after the response.
 */
export function withChangeFeed(store: FhirStore, sink: ChangeSink): FhirStore {
  const feed = async <T extends Resource>(resource: T): Promise<T> => {
    const change = changeOf(resource);
    if (change) await sink([change]);
    return resource;
  };
  return {
    ...store,
    read: (type, id) => store.read(type, id),
    readVersion: (type, id, versionId) => store.readVersion(type, id, versionId),
    history: (type, id) => store.history(type, id),
    search: (type, query) => store.search(type, query),
    delete: (type, id) => store.delete(type, id),
    ping: () => store.ping(),
    create: async (resource) => feed(await store.create(resource)),
    update: async (resource, options) => feed(await store.update(resource, options)),
    bundle: async (bundle, options) => {
      const answer = await store.bundle(bundle, options);
      const changes = changesOf(bundle, answer);
      if (changes.length) await sink(changes);
      return answer;
    },
  };
}

function changeOf(resource: Resource | undefined): Change | undefined {
  if (!resource?.id || !resource.meta?.versionId || !isSubscribable(resource.resourceType)) return undefined;
  return { type: resource.resourceType, id: resource.id, versionId: resource.meta.versionId };
}

const WRITES = ['POST', 'PUT', 'PATCH'];

/**
 * The watched versions a batch or transaction answer says were written (by its write entries: a
 * batch of reads writes nothing): from each entry's resource, or from its `Location`
 * (`Type/id/_history/vid`) when the store sent no body.
 */
export function changesOf(request: Bundle, answer: Bundle): Change[] {
  const changes: Change[] = [];
  for (const [i, entry] of (answer.entry ?? []).entries()) {
    const method = request.entry?.[i]?.request?.method ?? '';
    if (!WRITES.includes(method)) continue;
    const status = Number.parseInt(entry.response?.status ?? '', 10);
    // A create answered 200 matched what was stored (If-None-Exist): nothing changed.
    if (!(status === 201 || (status === 200 && method !== 'POST'))) continue;
    const fromResource = changeOf(entry.resource);
    const location = /(?:^|\/)([A-Za-z]+)\/([^/]+)\/_history\/([^/?]+)/.exec(entry.response?.location ?? '');
    const change =
      fromResource ??
      (location && isSubscribable(location[1] as string)
        ? { type: location[1] as ResourceType, id: location[2] as string, versionId: location[3] as string }
        : undefined);
    if (
      change &&
      !changes.some((c) => c.type === change.type && c.id === change.id && c.versionId === change.versionId)
    ) {
      changes.push(change);
    }
  }
  return changes;
}
