import { expect } from 'chai';
import { loadConfig, mergeConfig } from '../../src/platform/config.js';
import { ConfigInvalidError } from '../../src/app/errors.js';
import { CONFIG_DIR } from '../support/courier-harness.js';

function load(overrides: unknown[] = [], env: Record<string, string> = {}) {
  return loadConfig({ configDir: CONFIG_DIR, env, overrides });
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigInvalidError) return error.problems;
    throw error;
  }
  throw new Error('expected ConfigInvalidError');
}

describe('config', () => {
  it('loads the defaults, the practices directory and the environment defaults', () => {
    const config = load();
    expect(config.http.port).to.equal(8080);
    expect(config.http.maxBodyBytes).to.equal(5_242_880);
    expect(config.amqp.url).to.equal('amqp://guest:guest@127.0.0.1:5672');
    expect(config.amqp.prefix).to.equal('courier');
    expect(config.amqp.deliveryLimit).to.equal(10);
    expect(config.amqp.heartbeat).to.equal(10_000);
    expect(config.store).to.deep.equal({ databaseUrl: undefined, dataDir: './data' });
    expect(config.deadlines).to.deep.equal({ ITK003D: 86_400_000, ITK004D: 86_400_000, ITK005D: 86_400_000, ITK006D: 604_800_000 });
    expect(config.delivery.infrastructureAckTimeout).to.equal(600_000);
    expect(config.practices.map((p) => p.ods)).to.include('A81001');
  });

  it('takes host settings from the environment', () => {
    const config = load([], {
      COURIER_HTTP_PORT: '9090',
      COURIER_AMQP_PREFIX: 'c2',
      COURIER_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      COURIER_DATA_DIR: '/tmp/x',
    });
    expect(config.http.port).to.equal(9090);
    expect(config.amqp.prefix).to.equal('c2');
    expect(config.store).to.deep.equal({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/test', dataDir: '/tmp/x' });
  });

  it('merges objects key by key and replaces arrays whole', () => {
    expect(mergeConfig({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: 3 }, l: [9] })).to.deep.equal({ a: { b: 1, c: 3 }, l: [9] });
    const config = load([{ delivery: { backoff: { initial: 'PT2S' } }, practices: [{ ods: 'Z99999', name: 'Only' }] }]);
    expect(config.delivery.backoff).to.deep.equal({ initial: 2000, max: 3_600_000 });
    expect(config.practices.map((p) => p.ods)).to.deep.equal(['Z99999']);
  });

  it('an added deadline adds a supported event', () => {
    expect(Object.keys(load([{ deadlines: { ITK007C: 'PT48H' } }]).deadlines)).to.include('ITK007C');
  });

  it('reports every problem at once with the key path, unknown keys included', () => {
    const problems = problemsOf(() =>
      load(
        [
          {
            http: { maxBodyBytes: 'big', colour: 'red' },
            delivery: { maxAttempts: 0, infrastructureAckTimeout: '10 minutes' },
            practices: [{ ods: 'bad code', name: 'x' }],
            surprise: true,
          },
        ],
        { COURIER_HTTP_PORT: 'eighty', COURIER_AMQP_URL: 'http://nope' },
      ),
    );
    const text = problems.join('\n');
    expect(text).to.match(/http\.maxBodyBytes/);
    expect(text).to.match(/http.*colour/);
    expect(text).to.match(/delivery\.maxAttempts/);
    expect(text).to.match(/delivery\.infrastructureAckTimeout: must be an ISO 8601 duration/);
    expect(text).to.match(/practices\[0\]\.ods/);
    expect(text).to.match(/surprise/);
    expect(text).to.match(/COURIER_HTTP_PORT/);
    expect(text).to.match(/COURIER_AMQP_URL/);
    expect(problems.length).to.be.at.least(8);
  });

  it('rejects duplicate practices and a backoff that starts above its cap', () => {
    const problems = problemsOf(() =>
      load([
        {
          delivery: { backoff: { initial: 'PT2H', max: 'PT1H' } },
          practices: [
            { ods: 'A81001', name: 'a' },
            { ods: 'A81001', name: 'b' },
          ],
        },
      ]),
    ).join('\n');
    expect(problems).to.match(/practices\[1\]\.ods: duplicate/);
    expect(problems).to.match(/delivery\.backoff\.initial/);
  });

  it('takes the AMQP heartbeat in whole seconds from PT1S to PT10M', () => {
    expect(load([{ amqp: { heartbeat: 'PT2S' } }]).amqp.heartbeat).to.equal(2_000);
    for (const heartbeat of ['PT0S', 'PT1.5S', 'PT11M']) {
      expect(problemsOf(() => load([{ amqp: { heartbeat } }])).join('\n'), heartbeat).to.match(/amqp\.heartbeat: must be whole seconds/);
    }
  });

  it('takes an optional broker user per practice, never one user for two practices', () => {
    const config = load([{ practices: [{ ods: 'A81001', name: 'a', brokerUser: 'gp-a' }, { ods: 'A81002', name: 'b' }] }]);
    expect(config.practices.map((p) => p.brokerUser)).to.deep.equal(['gp-a', undefined]);
    const problems = problemsOf(() =>
      load([{ practices: [{ ods: 'A81001', name: 'a', brokerUser: 'gp' }, { ods: 'A81002', name: 'b', brokerUser: 'gp' }] }]),
    ).join('\n');
    expect(problems).to.match(/practices\[1\]\.brokerUser: gp is already another practice's user/);
  });

  it('is frozen', () => {
    const config = load();
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.delivery.backoff)).to.equal(true);
  });
});
