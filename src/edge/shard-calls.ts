/**
 * How isolates call the shard objects, and the parts of the Durable Objects API this code uses
 * (typed here because the project does not build against Cloudflare's type package). Calls are
 * JSON over the stub's `fetch`, which keeps the object classes plain classes that Node can import
 * (src/worker.ts is loaded by Node tests too).
 */
import { FhirError } from '../fhir/outcomes.ts';
import { SHARD_COUNT, shardName, shardOf } from './shards.ts';

/** A Durable Object stub, as far as calls go. */
export interface ShardStub {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** A Durable Object namespace binding (`[[durable_objects.bindings]]`). */
export interface ShardNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): ShardStub;
}

/** A cursor from SQLite-backed storage (`ctx.storage.sql.exec`). */
export interface SqlCursor {
  toArray(): Record<string, string | number | null>[];
  readonly rowsWritten: number;
}

/** The state a Durable Object is constructed with: SQLite storage and its alarm. */
export interface ShardState {
  storage: {
    sql: { exec(query: string, ...bindings: (string | number | null)[]): SqlCursor };
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
}

/** Whether a binding is a Durable Object namespace (absent on Node, and in a Worker without it). */
export function isShardNamespace(value: unknown): value is ShardNamespace {
  const candidate = value as Partial<ShardNamespace> | undefined;
  return typeof candidate?.idFromName === 'function' && typeof candidate.get === 'function';
}

/** Errors the platform marks safe to retry (a reset object, a dropped connection), not overload. */
function isRetryable(err: unknown): boolean {
  const flags = err as { retryable?: unknown; overloaded?: unknown } | null;
  return flags?.retryable === true && flags.overloaded !== true;
}

/**
 * Calls operation `op` on the shard that holds `digest`. Every operation is safe to repeat, so a
 * retryable platform error is retried twice; any other failure is an outage to the caller (503,
 * `Retry-After`), never an answer the service would make up.
 */
export async function callShard<T>(
  namespace: ShardNamespace,
  digest: string,
  op: string,
  args: object,
  shards = SHARD_COUNT,
): Promise<T> {
  return callShardAt<T>(namespace, shardOf(digest, shards), op, args);
}

/** Calls operation `op` on shard number `shard` (0 to the count - 1), as callShard does. */
export async function callShardAt<T>(
  namespace: ShardNamespace,
  shard: number,
  op: string,
  args: object,
): Promise<T> {
  const name = shardName(shard);
  for (let attempt = 0; ; attempt++) {
    try {
      // A stub per call: stubs are not carried from one request's context into another's.
      const stub = namespace.get(namespace.idFromName(name));
      const response = await stub.fetch(`https://shard.internal/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args),
      });
      if (!response.ok) throw new Error(`shard ${op} answered ${response.status}`);
      return (await response.json()) as T;
    } catch (err) {
      if (attempt < 2 && isRetryable(err)) continue;
      throw new FhirError(
        'unavailable',
        [{ code: 'transient', diagnostics: 'The service’s shared state is not reachable; try again later' }],
        { 'Retry-After': '5' },
      );
    }
  }
}

/** Operations a shard object serves: each takes the JSON arguments and answers JSON. */
export type ShardOperations = Record<string, (args: Record<string, unknown>) => unknown>;

/** The object's `fetch`: runs the operation the path names; 404 for any other. */
export async function serveShardCall(operations: ShardOperations, request: Request): Promise<Response> {
  const op = new URL(request.url).pathname.slice(1);
  const run = Object.hasOwn(operations, op) ? operations[op] : undefined;
  if (request.method !== 'POST' || !run) return new Response(null, { status: 404 });
  try {
    const args = (await request.json()) as Record<string, unknown>;
    return Response.json((await run(args)) ?? null);
  } catch (err) {
    // The error's name only: a message may quote the arguments.
    console.error(JSON.stringify({ level: 'error', event: 'shard.failed', op, error: (err as Error)?.name }));
    return new Response(null, { status: 500 });
  }
}

/** A string argument, or a thrown error (a caller bug, answered 500). */
export function textArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string' || value === '') throw new Error(`${name} must be a non-empty string`);
  return value;
}

/** A finite number argument, or a thrown error. */
export function numberArg(args: Record<string, unknown>, name: string): number {
  const value = args[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${name} must be a number`);
  return value;
}
