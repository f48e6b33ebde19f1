import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { GP } from '../support/secured.ts';

// `npm start` itself, with clients registered, reached from several loopback addresses: the
// rate limit and the token audience are what Node's server makes of a request, not what an app
// called directly does.

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const CLIENTS_FILE = join(PROJECT, 'examples/auth/clients.json');

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

/** The service's environment, without a PUBLIC_BASE_URL the caller's shell may have set. */
function serviceEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { PUBLIC_BASE_URL: _, AUTH_CLIENTS: __, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'silent', AUTH_CLIENTS_FILE: CLIENTS_FILE, ...env };
}

interface Answer {
  status: number;
  body: string;
}

/** Chunked transfer coding undone. */
function unchunk(raw: string): string {
  let body = '';
  let rest = raw;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!size) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/**
 * One HTTP/1.1 request over a socket bound to `from`, written out by hand so that the source
 * address and the Host header are exactly what the test says.
 */
function send(
  port: number,
  from: string,
  request: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = request.body ?? '';
    const headers: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      connection: 'close',
      'content-length': String(Buffer.byteLength(body)),
      ...request.headers,
    };
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const chunks: Buffer[] = [];
    socket.on('connect', () =>
      socket.write(`${request.method ?? 'GET'} ${request.path} HTTP/1.1\r\n${head}\r\n${body}`),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const responseHead = raw.slice(0, split);
      const rest = raw.slice(split + 4);
      resolve({
        status: Number(responseHead.split(' ')[1]),
        body: /^transfer-encoding:\s*chunked/im.test(responseHead) ? unchunk(rest) : rest,
      });
    });
  });
}

const tokenRequest = (body: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: '/oauth2/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body,
});

describe('npm start with clients registered, on loopback', () => {
  let child: ChildProcess;
  let port: number;
  let base: string;

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['src/node.ts', '--memory'], {
      cwd: PROJECT,
      env: serviceEnv({ HOST: '127.0.0.1', PORT: String(port), RATE_LIMIT_PER_MINUTE: '3' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const deadline = Date.now() + 20_000;
    while (!output.includes('listening on')) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`service did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }, 30_000);

  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('limits the token endpoint by the socket’s address, never by a CF-Connecting-IP header', async () => {
    const statuses: number[] = [];
    const from = async (address: string, headers: Record<string, string> = {}) => {
      statuses.push(
        (await send(port, address, tokenRequest('grant_type=client_credentials', headers))).status,
      );
    };
    for (let i = 0; i < 4; i++) await from('127.0.0.1');
    // Naming another address does not get 127.0.0.1 a fresh allowance...
    await from('127.0.0.1', { 'cf-connecting-ip': '203.0.113.9' });
    // ...and 127.0.0.2 is not held back by 127.0.0.1's requests, even naming it.
    await from('127.0.0.2');
    await from('127.0.0.2', { 'cf-connecting-ip': '127.0.0.1' });
    expect(statuses).toEqual([401, 401, 401, 429, 429, 401, 401]);
  });

  it('issues tokens for the address it listens on, whatever the Host header says', async () => {
    const evil = { host: 'evil.example' };
    const discovery = await send(port, '127.0.0.3', {
      path: '/.well-known/smart-configuration',
      headers: evil,
    });
    expect(discovery.status).toBe(200);
    expect(JSON.parse(discovery.body)).toMatchObject({
      issuer: base,
      token_endpoint: `${base}/oauth2/token`,
    });
    const aimedAtHost = await clientAssertion(testClientKey(GP), 'http://evil.example/oauth2/token');
    const refused = await send(port, '127.0.0.3', tokenRequest(tokenForm(aimedAtHost, 'system/*.rs'), evil));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body).error).toBe('invalid_client');
    const aimedAtBase = await clientAssertion(testClientKey(GP), `${base}/oauth2/token`);
    const issued = await send(port, '127.0.0.3', tokenRequest(tokenForm(aimedAtBase, 'system/*.rs'), evil));
    expect(issued.status).toBe(200);
  });
});

describe('npm start with clients registered, beyond loopback', () => {
  it('refuses to start without PUBLIC_BASE_URL, naming it', async () => {
    const run = spawnSync(process.execPath, ['src/node.ts', '--memory'], {
      cwd: PROJECT,
      env: serviceEnv({ HOST: '0.0.0.0', PORT: String(await freePort()) }),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/PUBLIC_BASE_URL/);
  });
});
