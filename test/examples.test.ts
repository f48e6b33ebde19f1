import { describe, expect, it } from 'vitest';
import {
  captureValues,
  compare,
  DEFAULT_EXAMPLE_CLIENT,
  EXAMPLE_FOLDERS,
  loadExamples,
  registeredScopes,
  substitute,
  toRequestInit,
} from '../scripts/examples-lib.ts';
import { seedEmbeddedStore } from '../src/medplum/embedded/seed.ts';
import { createTestApp } from './support/app.ts';
import { securedApp } from './support/secured.ts';

describe('examples, every folder run in order through one app', async () => {
  const { app, store } = createTestApp();
  await seedEmbeddedStore(store);
  for (const folder of EXAMPLE_FOLDERS) {
    describe(folder, () => {
      const values = new Map<string, string>();
      for (const example of loadExamples(folder)) {
        // The open local mode lets anyone do anything: what needs clients is run below.
        it.skipIf(example.request.onlyWithClients)(example.name, async () => {
          const request = substitute(example.request, values);
          const expected = substitute(example.response, values);
          const response = await app.request(`http://facade.test${request.path}`, toRequestInit(request));
          expect(await captureValues(expected, response, values)).toEqual([]);
          expect(await compare(expected, response)).toEqual([]);
        });
      }
    });
  }
});

/**
 * The directory's and the care team's examples again with the test clients registered, as
 * `npm run examples` sends them to a secured service: each by its client, with a token for the
 * scopes it is registered for (the care team's include what only clients can show: who may not see).
 */
describe.each(['directory', 'care-team'])('examples/%s with clients registered', async (folder) => {
  const s = await securedApp();
  const tokens = new Map<string, string>();
  const tokenFor = async (client: string) => {
    let token = tokens.get(client);
    if (!token) {
      token = await s.token(client, registeredScopes(client));
      tokens.set(client, token);
    }
    return token;
  };
  const values = new Map<string, string>();
  for (const example of loadExamples(folder)) {
    it(example.name, async () => {
      const request = substitute(example.request, values);
      const expected = substitute(example.response, values);
      const token = await tokenFor(request.client ?? DEFAULT_EXAMPLE_CLIENT);
      const response = await s.app.request(
        `http://facade.test${request.path}`,
        toRequestInit(request, token),
      );
      expect(await captureValues(expected, response, values)).toEqual([]);
      expect(await compare(expected, response)).toEqual([]);
    });
  }
});
