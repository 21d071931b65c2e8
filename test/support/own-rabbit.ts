import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A RabbitMQ node of the test's own (TESTING.md recipe), for fault tests that
 * stop the broker: the shared node on 5672 is never touched. Debian's
 * rabbitmq-server drops to the rabbitmq user, so its directories are chowned.
 */
export class OwnRabbit {
  private constructor(
    readonly node: string,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  static async start(name = `faults${process.pid}`, port = 5679): Promise<OwnRabbit> {
    const dir = await mkdtemp(join(tmpdir(), 'courier-rabbit-'));
    await mkdir(join(dir, 'mnesia'), { recursive: true });
    await mkdir(join(dir, 'log'), { recursive: true });
    const { stdout } = await run('id', ['-u', 'rabbitmq']);
    const { stdout: gid } = await run('id', ['-g', 'rabbitmq']);
    for (const d of [dir, join(dir, 'mnesia'), join(dir, 'log')]) await chown(d, Number(stdout.trim()), Number(gid.trim()));
    const node = `${name}@localhost`;
    await run('rabbitmq-server', ['-detached'], {
      env: {
        ...process.env,
        RABBITMQ_NODENAME: node,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(port + 20_000),
        RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(dir, 'log'),
        RABBITMQ_PID_FILE: join(dir, 'pid'),
      },
    });
    const own = new OwnRabbit(node, port, dir);
    await own.ctl('await_startup', '--timeout', '90');
    return own;
  }

  async ctl(...args: string[]): Promise<void> {
    await run('rabbitmqctl', ['-n', this.node, ...args], { timeout: 120_000 });
  }

  async stop(): Promise<void> {
    await this.ctl('stop').catch(() => undefined); // already down: nothing to stop
    await rm(this.dir, { recursive: true, force: true });
  }
}
