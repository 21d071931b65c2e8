import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CourierProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
}

/**
 * Runs Courier as `npm start` does (tsx src/main.ts) in a child process, so
 * tests can SIGKILL or SIGTERM it. Resolves once it logged that it listens.
 * `nodeArgs` go to node before the script (e.g. `--cpu-prof`, which
 * NODE_OPTIONS does not allow).
 */
export async function spawnCourier(env: Record<string, string>, timeoutMs = 30_000, nodeArgs: readonly string[] = []): Promise<CourierProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, COURIER_HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a child left running keeps mocha (no --exit) from ever ending
      reject(new Error(`Courier did not start in ${timeoutMs} ms:\n${text}`));
    }, timeoutMs);
    const check = (): void => {
      const match = /"message":"Courier listening"[^\n]*"port":(\d+)|"port":(\d+)[^\n]*"message":"Courier listening"/.exec(text);
      const found = match?.[1] ?? match?.[2];
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(Number(found));
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Courier exited (${code}) before listening:\n${text}`));
    });
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => text, exited };
}
