import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// `npm start` as a child process (`node src/node.ts`) on a data directory, for tests that stop,
// restart and kill it.

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

/** A loopback port free now. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

export interface Service {
  base: string;
  child: ChildProcess;
  output: () => string;
}

/**
 * Starts `node src/node.ts` on the data directory; resolves with its base URL once it listens.
 * Each child is added to `children`, for the test to kill after it.
 */
export async function startService(
  dir: string,
  children: ChildProcess[],
  env: Record<string, string> = {},
): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/node.ts'], {
    cwd: PROJECT,
    env: { ...process.env, DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
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
  return { base: `http://127.0.0.1:${port}`, child, output: () => output };
}

/** Stops the child with the signal, and waits for it to exit. */
export async function stopService(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
