import { describe, expect, it } from 'vitest';
import {
  captureValues,
  compare,
  EXAMPLE_FOLDERS,
  loadExamples,
  substitute,
  toRequestInit,
} from '../scripts/examples-lib.ts';
import { seedEmbeddedStore } from '../src/medplum/embedded/seed.ts';
import { createTestApp } from './support/app.ts';

describe('examples, every folder run in order through one app', async () => {
  const { app, store } = createTestApp();
  await seedEmbeddedStore(store);
  for (const folder of EXAMPLE_FOLDERS) {
    describe(folder, () => {
      const values = new Map<string, string>();
      for (const example of loadExamples(folder)) {
        it(example.name, async () => {
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
