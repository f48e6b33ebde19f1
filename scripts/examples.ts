/**
 * `npm run examples [-- --url http://127.0.0.1:8787]`: sends every example of examples/referrals,
 * examples/journey and examples/directory to a running service, in order, and prints what came
 * back beside what the example expects.
 * Run against a fresh store: on a second run the referrals already exist, so the success
 * examples answer as retries (200 OK entries) instead of creations.
 * When the service has clients registered (it serves /.well-known/smart-configuration), each
 * example is sent with an access token obtained the SMART Backend Services way, with the
 * test-only client keys in examples/auth/ (register examples/auth/clients.json to try it).
 * Examples marked `onlyWithClients` (a client refused for its scopes) are skipped in the open
 * local mode, where anyone may do anything.
 */
import {
  captureValues,
  compare,
  DEFAULT_EXAMPLE_CLIENT,
  EXAMPLE_FOLDERS,
  loadExamples,
  registeredScopes,
  substitute,
  toRequestInit,
} from './examples-lib.ts';
import { getAccessToken } from './smart-client.ts';
import { testClientKey } from './test-client-keys.ts';

const urlFlag = process.argv.indexOf('--url');
const base = (urlFlag > 0 ? process.argv[urlFlag + 1] : undefined) ?? 'http://127.0.0.1:8787';

const discovery = await fetch(new URL('/.well-known/smart-configuration', base)).catch(() => undefined);
const secured = discovery?.ok === true;
const tokens = new Map<string, string>();
/** A test client asks for everything it is registered for (examples/auth/clients.json). */
async function tokenFor(clientId: string): Promise<string | undefined> {
  if (!secured) return undefined;
  let token = tokens.get(clientId);
  if (!token) {
    token = await getAccessToken(
      fetch,
      base.replace(/\/+$/, ''),
      testClientKey(clientId),
      registeredScopes(clientId),
    );
    tokens.set(clientId, token);
  }
  return token;
}
console.log(
  secured
    ? 'Clients are registered: sending with access tokens.\n'
    : 'Open local mode: sending without tokens.\n',
);

let failures = 0;
for (const folder of EXAMPLE_FOLDERS) {
  console.log(`\n# examples/${folder}\n`);
  const values = new Map<string, string>();
  for (const original of loadExamples(folder)) {
    const example = {
      ...original,
      request: substitute(original.request, values),
      response: substitute(original.response, values),
    };
    if (example.request.onlyWithClients && !secured) {
      console.log(`- ${example.name}: skipped (sent only where clients are registered)`);
      console.log(`    ${example.request.description}`);
      continue;
    }
    let line: string;
    try {
      const token = await tokenFor(example.request.client ?? DEFAULT_EXAMPLE_CLIENT);
      const response = await fetch(
        new URL(example.request.path, base),
        toRequestInit(example.request, token),
      );
      const problems = [
        ...(await captureValues(example.response, response, values)),
        ...(await compare(example.response, response.clone())),
      ];
      const body = await response.text();
      const summary = summarise(body);
      line = `${problems.length ? '✗' : '✓'} ${example.name}: ${response.status}${summary ? ` ${summary}` : ''}`;
      if (problems.length) {
        failures++;
        line += `\n    expected: ${problems.join('; ')}`;
      }
    } catch (err) {
      failures++;
      line = `✗ ${example.name}: ${(err as Error).message} (is the service running at ${base}?)`;
    }
    console.log(line);
    console.log(`    ${example.request.description}`);
  }
}
console.log(
  failures
    ? `\n${failures} example(s) differed from what they expect.`
    : '\nEvery example answered as expected.',
);
process.exitCode = failures ? 1 : 0;

/**
 * One line about the answer: entry statuses of a Bundle, issues of an OperationOutcome, the names
 * (and counts) of a Parameters, or ids.
 */
function summarise(body: string): string {
  try {
    const json = JSON.parse(body);
    if (json.resourceType === 'Bundle') {
      type Entry = {
        response?: { status?: string; location?: string };
        resource?: { resourceType: string; id: string };
      };
      const describe = (e: Entry) =>
        e.response
          ? `${e.response.location?.split('/_history')[0]} ${e.response.status?.split(' ')[0]}`
          : `${e.resource?.resourceType}/${e.resource?.id}`;
      return `${json.type} [${(json.entry ?? []).map(describe).join(', ')}]`;
    }
    if (json.resourceType === 'OperationOutcome') {
      return json.issue
        .map(
          (i: { code: string; expression?: string[]; diagnostics?: string }) =>
            `${i.code} ${i.expression?.[0] ?? ''}: ${i.diagnostics}`,
        )
        .join(' | ');
    }
    if (json.resourceType === 'Parameters') {
      type Parameter = { name: string; valueInteger?: number };
      const parameters: Parameter[] = json.parameter ?? [];
      const said = parameters.map((p) =>
        p.valueInteger === undefined ? p.name : `${p.name}=${p.valueInteger}`,
      );
      return `Parameters [${[...new Set(said)].join(', ')}]`;
    }
    if (json.resourceType) return `${json.resourceType}/${json.id}`;
    return JSON.stringify(json);
  } catch {
    return '';
  }
}
