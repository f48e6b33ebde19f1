import { DatabaseSync } from 'node:sqlite';
import type { ShardNamespace, ShardState } from '../../src/edge/shard-calls.ts';

/**
 * A Durable Object's state as the shard classes use it, in Node: SQLite storage (an in-memory
 * database, through `sql.exec` as workerd offers it) and one alarm, set but never fired (tests
 * call the object's `alarm` themselves).
 */
export function sqliteShardState(): ShardState & { alarmAt: number | null; db: DatabaseSync } {
  const db = new DatabaseSync(':memory:');
  const state = {
    db,
    alarmAt: null as number | null,
    storage: {
      sql: {
        exec(query: string, ...bindings: (string | number | null)[]) {
          const statement = db.prepare(query);
          if (statement.columns().length > 0) {
            const rows = statement.all(...bindings) as Record<string, string | number | null>[];
            return { toArray: () => rows, rowsWritten: 0 };
          }
          const { changes } = statement.run(...bindings);
          return { toArray: () => [], rowsWritten: Number(changes) };
        },
      },
      getAlarm: async () => state.alarmAt,
      setAlarm: async (at: number) => {
        state.alarmAt = at;
      },
    },
  };
  return state;
}

/**
 * A namespace of objects made on first use by `make`, each answering calls with its `fetch` as
 * workerd would route them; `objects` holds them by name, `calls` counts the calls made.
 */
export function inProcessNamespace<T extends { fetch(request: Request): Promise<Response> }>(
  make: (name: string) => T,
): ShardNamespace & { objects: Map<string, T>; calls: { name: string; op: string }[] } {
  const objects = new Map<string, T>();
  const calls: { name: string; op: string }[] = [];
  return {
    objects,
    calls,
    idFromName: (name) => name,
    get: (id) => {
      const name = id as string;
      return {
        fetch: (input, init) => {
          let object = objects.get(name);
          if (!object) {
            object = make(name);
            objects.set(name, object);
          }
          calls.push({ name, op: new URL(input).pathname.slice(1) });
          return object.fetch(new Request(input, init));
        },
      };
    },
  };
}
