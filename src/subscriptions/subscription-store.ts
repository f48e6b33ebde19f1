import type { Extension, Subscription } from '@medplum/fhirtypes';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { StoreError } from '../medplum/errors.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { stateOf, withState } from './subscription-rules.ts';

/** Tries of a change to a stored subscription that another change overtook. */
const TRIES = 5;

/**
 * Changes a stored subscription by `change` against its latest version, read again when another
 * write got there first (the owner's update, another event). `change` answers undefined for "no
 * change needed"; the result is the subscription as stored after it, or undefined when gone.
 */
async function changeStored(
  store: FhirStore,
  id: string,
  change: (current: Subscription) => Subscription | undefined,
): Promise<Subscription | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await readIfExists<Subscription>(store, 'Subscription', id);
    if (!current) return undefined;
    const next = change(current);
    if (!next) return current;
    try {
      return await store.update(next, { ifMatchVersion: current.meta?.versionId as string });
    } catch (err) {
      if (!(err instanceof StoreError && err.refusal === 'precondition-failed') || attempt >= TRIES)
        throw err;
    }
  }
}

/**
 * Puts a subscription in `error` with the reason, unless it is no longer active (stopped, deleted,
 * or already in error): no notification is attempted on it again until its owner turns it back on.
 */
export async function markError(store: FhirStore, id: string, reason: string): Promise<void> {
  await changeStored(store, id, (current) =>
    stateOf(current) === 'active' ? withState(current, 'error', reason) : undefined,
  );
}

/** A topic-based subscription's count of events, and the notification that made its last one. */
export function eventsOf(subscription: Subscription): { count: number; last?: string } {
  const ext = subscription.extension?.find((e) => e.url === OWN_SYSTEM.subscriptionEvents);
  const count = ext?.extension?.find((e) => e.url === 'count')?.valueInteger ?? 0;
  const last = ext?.extension?.find((e) => e.url === 'last')?.valueString;
  return { count, ...(last ? { last } : {}) };
}

function withEvents(subscription: Subscription, count: number, last: string): Subscription {
  const events: Extension = {
    url: OWN_SYSTEM.subscriptionEvents,
    extension: [
      { url: 'count', valueInteger: count },
      { url: 'last', valueString: last },
    ],
  };
  const others = (subscription.extension ?? []).filter((e) => e.url !== OWN_SYSTEM.subscriptionEvents);
  return { ...subscription, extension: [...others, events] };
}

/**
 * The number of the event a notification carries: the next of its subscription's, counted once
 * per notification (a notification delivered again keeps its number). Deliveries to one
 * subscription go one at a time, in order, so numbers follow the order of the changes.
 */
export async function eventNumber(
  store: FhirStore,
  id: string,
  notification: string,
): Promise<number | undefined> {
  let number: number | undefined;
  await changeStored(store, id, (current) => {
    const { count, last } = eventsOf(current);
    if (last === notification) {
      number = count;
      return undefined;
    }
    number = count + 1;
    return withEvents(current, number, notification);
  });
  return number;
}
