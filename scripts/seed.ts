/**
 * `npm run seed [-- --url <Medplum base URL>] [--dir <folder>]`: puts the directory of
 * examples/seed/ (or `--dir`) into the Medplum the facade uses, idempotently, as the facade's
 * ClientApplication (MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET; `--url` instead
 * of MEDPLUM_BASE_URL). Each organisation is matched by its ODS code and each service by its name
 * and organisation, so running it again adds nothing. It then says whether the project runs
 * transaction Bundles all or nothing, which the facade needs to be ready.
 */
import { pathToFileURL } from 'node:url';
import { ConfigError, parseConfig } from '../src/config.ts';
import { StoreError } from '../src/medplum/errors.ts';
import { createMedplumClient, createMedplumStore, runsTransactionsAtomically } from '../src/medplum/store.ts';
import { SEED_DIR, seedDirectory } from './seed-lib.ts';

const flag = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const url = flag('--url');
const dir = flag('--dir');

let config: ReturnType<typeof parseConfig>;
try {
  config = parseConfig({ ...process.env, ...(url ? { MEDPLUM_BASE_URL: url } : {}) });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
if (!config.medplum) {
  console.error(
    'Set MEDPLUM_BASE_URL (or --url), MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the Medplum to seed.',
  );
  process.exit(2);
}
const medplum = config.medplum;
const store = createMedplumStore(createMedplumClient({ ...medplum, timeoutMs: config.upstreamTimeoutMs }));
const from = dir ? pathToFileURL(`${dir.replace(/\/+$/, '')}/`) : SEED_DIR;

console.log(`Seeding ${medplum.baseUrl} from ${from.pathname}`);
try {
  for (const outcome of await seedDirectory(store, from)) {
    console.log(`${outcome.created ? 'created' : 'found  '}  ${outcome.reference}  (${outcome.criterion})`);
  }
  if (!(await runsTransactionsAtomically(store))) {
    console.warn(
      '\nWarning: this Medplum project runs transaction Bundles entry by entry; give it the ' +
        'transaction-bundles feature, or the facade will not be ready (GET /health/ready answers 503).',
    );
  }
} catch (err) {
  // Errors from the store are classified and carry no secrets; Medplum's own words say why.
  const why =
    err instanceof StoreError ? (err.outcome.issue ?? []).map((i) => i.details?.text ?? i.diagnostics) : [];
  console.error(`Seeding failed: ${err instanceof Error ? err.message : String(err)}`, ...why);
  process.exit(1);
}
