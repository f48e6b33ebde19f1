import { afterAll, afterEach, beforeAll } from 'vitest';
import { server } from './msw.ts';

// The network is closed: any request no handler answers fails the test.
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());
