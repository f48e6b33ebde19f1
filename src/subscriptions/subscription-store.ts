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

/** Notifications whose numbers are remembered, to give one sent again the number it had. */
const REMEMBERED = 50;

/** A topic-based subscription's count of events, and the numbers of its latest notifications. */
export function eventsOf(subscription: Subscription): { count: number; recent: Map<string, number> } {
  const ext = subscription.extension?.find((e) => e.url === OWN_SYSTEM.subscriptionEvents);
  const count = ext?.extension?.find((e) => e.url === 'count')?.valueInteger ?? 0;
  const recent = new Map<string, number>();
  for (const e of ext?.extension ?? []) {
    const [notification, number] = e.url === 'event' ? (e.valueString ?? '').split(' ') : [];
    if (notification && Number(number) > 0) recent.set(notification, Number(number));
  }
  return { count, recent };
}

function withEvents(subscription: Subscription, count: number, recent: Map<string, number>): Subscription {
  const kept = [...recent].slice(-REMEMBERED);
  const events: Extension = {
    url: OWN_SYSTEM.subscriptionEvents,
    extension: [
      { url: 'count', valueInteger: count },
      ...kept.map(([notification, number]) => ({ url: 'event', valueString: `${notification} ${number}` })),
    ],
  };
  const others = (subscription.extension ?? []).filter((e) => e.url !== OWN_SYSTEM.subscriptionEvents);
  return { ...subscription, extension: [...others, events] };
}

/**
 * The number of the event a notification carries: the next of its subscription's, counted once
 * per notification (one sent again, among the latest 50, keeps its number). Deliveries to one
 * subscription go one at a time, in order, so numbers follow the order of the changes.
 */
export async function eventNumber(
  store: FhirStore,
  id: string,
  notification: string,
): Promise<number | undefined> {
  let number: number | undefined;
  await changeStored(store, id, (current) => {
    const { count, recent } = eventsOf(current);
    const had = recent.get(notification);
    if (had !== undefined) {
      number = had;
      return undefined;
    }
    number = count + 1;
    recent.set(notification, number);
    return withEvents(current, number, recent);
  });
  return number;
}
