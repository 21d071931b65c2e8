import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createLogger, type LogLevel } from '../../src/platform/logger.js';

/** The JSON lines a logger at `level` writes for one call at each level. */
async function linesAt(level: LogLevel): Promise<{ level: string; message: string; trackingId?: string }[]> {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const logger = createLogger({ level, stream }).child({ component: 'test' });
  for (const l of ['debug', 'info', 'warn', 'error'] as const) logger[l](`${l} line`, { trackingId: 't-1' });
  await new Promise((resolve) => setImmediate(resolve));
  return text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { level: string; message: string });
}

describe('logger', () => {
  it('writes debug lines only at level debug, and every line as JSON with its context', async () => {
    expect((await linesAt('debug')).map((l) => l.level)).to.deep.equal(['debug', 'info', 'warn', 'error']);
    expect((await linesAt('info')).map((l) => l.level)).to.deep.equal(['info', 'warn', 'error']);
    expect((await linesAt('warn')).map((l) => l.level)).to.deep.equal(['warn', 'error']);
    expect((await linesAt('debug'))[0]).to.deep.include({ message: 'debug line', trackingId: 't-1', component: 'test' });
  });
});
