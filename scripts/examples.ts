/**
 * `npm run examples [-- --url http://127.0.0.1:8787]`: posts every example in examples/referrals
 * to a running service, in order, and prints what came back beside what the example expects.
 * Run against a fresh store: on a second run the referrals already exist, so the success
 * examples answer as retries (200 OK entries) instead of creations.
 * When the service has clients registered (it serves /.well-known/smart-configuration), each
 * example is sent with an access token obtained the SMART Backend Services way, with the
 * test-only client keys in examples/auth/ (register examples/auth/clients.json to try it).
 */
import { compare, DEFAULT_EXAMPLE_CLIENT, loadExamples, toRequestInit } from './examples-lib.ts';
import { getAccessToken } from './smart-client.ts';
import { testClientKey } from './test-client-keys.ts';

const urlFlag = process.argv.indexOf('--url');
const base = (urlFlag > 0 ? process.argv[urlFlag + 1] : undefined) ?? 'http://127.0.0.1:8787';

const discovery = await fetch(new URL('/.well-known/smart-configuration', base)).catch(() => undefined);
const secured = discovery?.ok === true;
const tokens = new Map<string, string>();
async function tokenFor(clientId: string): Promise<string | undefined> {
  if (!secured) return undefined;
  let token = tokens.get(clientId);
  if (!token) {
    token = await getAccessToken(
      fetch,
      base.replace(/\/+$/, ''),
      testClientKey(clientId),
      'system/ServiceRequest.c',
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
for (const example of loadExamples('referrals')) {
  let line: string;
  try {
    const token = await tokenFor(example.request.client ?? DEFAULT_EXAMPLE_CLIENT);
    const response = await fetch(new URL(example.request.path, base), toRequestInit(example.request, token));
    const problems = await compare(example.response, response.clone());
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
console.log(
  failures
    ? `\n${failures} example(s) differed from what they expect.`
    : '\nEvery example answered as expected.',
);
process.exitCode = failures ? 1 : 0;

/** One line about the answer: entry statuses of a Bundle, issues of an OperationOutcome, or ids. */
function summarise(body: string): string {
  try {
    const json = JSON.parse(body);
    if (json.resourceType === 'Bundle') {
      return `[${(json.entry ?? []).map((e: { response?: { status?: string; location?: string } }) => `${e.response?.location?.split('/_history')[0]} ${e.response?.status?.split(' ')[0]}`).join(', ')}]`;
    }
    if (json.resourceType === 'OperationOutcome') {
      return json.issue
        .map(
          (i: { code: string; expression?: string[]; diagnostics?: string }) =>
            `${i.code} ${i.expression?.[0] ?? ''}: ${i.diagnostics}`,
        )
        .join(' | ');
    }
    if (json.resourceType) return `${json.resourceType}/${json.id}`;
    return JSON.stringify(json);
  } catch {
    return '';
  }
}
