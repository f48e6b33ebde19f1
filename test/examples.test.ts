import { describe, expect, it } from 'vitest';
import { compare, loadExamples, toRequestInit } from '../scripts/examples-lib.ts';
import { seedEmbeddedStore } from '../src/medplum/embedded/seed.ts';
import { createTestApp } from './support/app.ts';

describe('examples/referrals, run in order through the app', async () => {
  const { app, store } = createTestApp();
  await seedEmbeddedStore(store);
  for (const example of loadExamples('referrals')) {
    it(example.name, async () => {
      const response = await app.request(
        `http://facade.test${example.request.path}`,
        toRequestInit(example.request),
      );
      expect(await compare(example.response, response)).toEqual([]);
    });
  }
});
