import { SELF } from 'cloudflare:test';
import keys from '../../examples/auth/test-client-keys.json';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';

/** An access token from the Worker's own token endpoint, for a test client of examples/auth. */
export async function tokenFor(clientId: string, scope: string): Promise<string> {
  const key = keys.keys.find((k) => k.clientId === clientId);
  if (!key) throw new Error(`no test key for ${clientId}`);
  const tokenUrl = 'https://facade.test/oauth2/token';
  const response = await SELF.fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(await clientAssertion(key, tokenUrl), scope),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token refused (${response.status})`);
  return body.access_token;
}
