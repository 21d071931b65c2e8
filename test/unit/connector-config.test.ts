import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { loadConnectorConfig } from '../../src/platform/connector-config.js';
import { ConfigInvalidError } from '../../src/app/errors.js';
import { parseConnectorConfig } from '../../src/platform/connector-config.js';

const FOLDER = { ods: 'A81001', sink: { kind: 'folder', path: '/srv/gp/inbox' } };
const FHIR = { ods: 'A81002', sink: { kind: 'fhir', baseUrl: 'https://gp.example.nhs.uk/fhir' } };

function problemsOf(file: unknown, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConnectorConfig(file, env);
  } catch (error) {
    if (error instanceof ConfigInvalidError) return error.problems;
    throw error;
  }
  throw new Error('expected ConfigInvalidError');
}

describe('connector config (courier connect --config)', () => {
  it('applies the defaults, durations in milliseconds', () => {
    const config = parseConnectorConfig({ practices: [FOLDER, FHIR] }, {});
    expect(config).to.deep.include({
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      amqpPrefix: 'courier',
      courierUrl: 'http://127.0.0.1:8080',
      dataDir: './connector-data',
      prefetch: 16,
      retry: { limit: 5, initial: 2000, max: 60_000 },
      gaps: { grace: 600_000, checkInterval: 30_000 },
      logLevel: 'info',
    });
    expect(config.databaseUrl).to.equal(undefined);
    expect(config.metricsPort).to.equal(undefined);
    expect(config.practices).to.deep.equal([
      { ods: 'A81001', sink: { kind: 'folder', path: '/srv/gp/inbox', pollInterval: 5000 } },
      {
        ods: 'A81002',
        sink: { kind: 'fhir', baseUrl: 'https://gp.example.nhs.uk/fhir', mode: 'process-message', timeout: 30_000, identifierSystem: 'urn:ietf:rfc:3986' },
      },
    ]);
  });

  it('turns the durations the file gives into milliseconds', () => {
    const config = parseConnectorConfig(
      {
        retry: { limit: 3, initial: 'PT0.5S', max: 'PT10S' },
        gaps: { grace: 'P1D', checkInterval: 'PT1M' },
        practices: [{ ods: 'A81001', sink: { kind: 'fhir', baseUrl: 'http://127.0.0.1:9000/fhir', timeout: 'PT5S', mode: 'document-reference' } }],
      },
      {},
    );
    expect(config.retry).to.deep.equal({ limit: 3, initial: 500, max: 10_000 });
    expect(config.gaps).to.deep.equal({ grace: 86_400_000, checkInterval: 60_000 });
    expect(config.practices[0]?.sink).to.include({ timeout: 5000, mode: 'document-reference' });
  });

  it('lets the environment override the host settings of the file', () => {
    const file = {
      amqpUrl: 'amqp://file@127.0.0.1:5672',
      amqpPrefix: 'fromfile',
      courierUrl: 'http://file.example:8080',
      databaseUrl: 'postgres://file@127.0.0.1:5432/file',
      dataDir: '/var/lib/file',
      practices: [FOLDER],
    };
    const config = parseConnectorConfig(file, {
      COURIER_AMQP_URL: 'amqps://env@broker.example:5671',
      COURIER_AMQP_PREFIX: 'fromenv',
      COURIER_URL: 'https://courier.example',
      COURIER_CONNECTOR_DATABASE_URL: 'postgresql://env@127.0.0.1:5432/env',
      COURIER_CONNECTOR_DATA_DIR: '/var/lib/env',
    });
    expect(config).to.deep.include({
      amqpUrl: 'amqps://env@broker.example:5671',
      amqpPrefix: 'fromenv',
      courierUrl: 'https://courier.example',
      databaseUrl: 'postgresql://env@127.0.0.1:5432/env',
      dataDir: '/var/lib/env',
    });

    const unset = parseConnectorConfig(file, { COURIER_AMQP_URL: '', COURIER_CONNECTOR_DATA_DIR: '' });
    expect(unset, 'an empty variable is unset').to.deep.include({ amqpUrl: 'amqp://file@127.0.0.1:5672', dataDir: '/var/lib/file' });
  });

  it('checks values from the environment like values from the file', () => {
    const problems = problemsOf({ practices: [FOLDER] }, { COURIER_AMQP_URL: 'http://broker', COURIER_CONNECTOR_DATABASE_URL: 'mysql://db' });
    expect(problems).to.have.length(2);
    expect(problems.join('\n')).to.match(/^amqpUrl: must be an amqp/m).and.match(/^databaseUrl: must be a postgres/m);
  });

  it('rejects unknown keys at every level, naming where', () => {
    const problems = problemsOf({
      surprise: true,
      retry: { colour: 'red' },
      practices: [{ ...FOLDER, name: 'The Surgery', sink: { ...FOLDER.sink, extra: 1 } }],
    });
    expect(problems).to.have.members([
      '(root): Unrecognized key: "surprise"',
      'retry: Unrecognized key: "colour"',
      'practices[0]: Unrecognized key: "name"',
      'practices[0].sink: Unrecognized key: "extra"',
    ]);
  });

  describe('each problem is a ConfigInvalidError naming the key path', () => {
    const cases: [string, unknown, RegExp][] = [
      ['a bad duration', { retry: { initial: '2 seconds' }, practices: [FOLDER] }, /^retry\.initial: must be an ISO 8601 duration/],
      ['a bad sink duration', { practices: [{ ods: 'A81001', sink: { kind: 'folder', path: '/x', pollInterval: 'P1M' } }] }, /^practices\[0\]\.sink\.pollInterval: must be an ISO 8601 duration/],
      ['a bad ODS code', { practices: [FOLDER, { ...FHIR, ods: 'a81002' }] }, /^practices\[1\]\.ods: must be an ODS code/],
      ['a duplicate ODS code', { practices: [FOLDER, { ...FHIR, ods: 'A81001' }] }, /^practices\[1\]\.ods: duplicate ODS code A81001$/],
      ['retry.initial longer than retry.max', { retry: { initial: 'PT2M' }, practices: [FOLDER] }, /^retry\.initial: must not be longer than retry\.max$/],
      ['no practices list', {}, /^practices: /],
      ['an empty practices list', { practices: [] }, /^practices: must name at least one practice$/],
      ['an unknown sink kind', { practices: [{ ods: 'A81001', sink: { kind: 'ftp', path: '/x' } }] }, /^practices\[0\]\.sink\.kind: /],
      ['a file that is not an object', [FOLDER], /^\(root\): /],
    ];
    for (const [name, file, expected] of cases) {
      it(name, () => {
        const problems = problemsOf(file);
        expect(problems, problems.join('\n')).to.have.length(1);
        expect(problems[0]).to.match(expected);
      });
    }
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(
      {
        prefetch: 0,
        logLevel: 'chatty',
        retry: { initial: 'soon', max: 'PT1M' },
        gaps: { grace: '10m' },
        practices: [
          { ods: 'bad code', sink: { kind: 'folder', path: '/x' } },
          { ods: 'A81001', sink: { kind: 'ftp' } },
          { ods: 'A81002', sink: { kind: 'fhir', baseUrl: 'not a url' } },
        ],
        surprise: 1,
      },
      { COURIER_AMQP_PREFIX: 'Upper Case' },
    );
    const text = problems.join('\n');
    for (const path of ['prefetch', 'logLevel', 'retry\\.initial', 'gaps\\.grace', 'practices\\[0\\]\\.ods', 'practices\\[1\\]\\.sink\\.kind', 'practices\\[2\\]\\.sink\\.baseUrl', '\\(root\\): Unrecognized key: "surprise"', 'amqpPrefix']) {
      expect(text).to.match(new RegExp(`^${path}`, 'm'));
    }
    expect(problems).to.have.length(9);
  });

  it('reports the cross-checks together: duplicate ODS codes and retry.initial beyond retry.max', () => {
    const problems = problemsOf({ retry: { initial: 'PT5M', max: 'PT1M' }, practices: [FOLDER, FHIR, { ...FHIR }, { ...FOLDER }] });
    expect(problems).to.have.members([
      'practices[2].ods: duplicate ODS code A81002',
      'practices[3].ods: duplicate ODS code A81001',
      'retry.initial: must not be longer than retry.max',
    ]);
  });

  it('the shipped example (config/connector.example.json, used by compose.yaml) and the README example are valid', () => {
    const example = loadConnectorConfig(new URL('../../config/connector.example.json', import.meta.url).pathname, {});
    expect(example.practices.map((p) => p.sink.kind)).to.deep.equal(['folder', 'fhir']);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Connecting a practice'));
    const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
    expect(json, 'a JSON example in "Connecting a practice"').to.be.a('string');
    const fromReadme = parseConnectorConfig(JSON.parse(json ?? ''), {});
    expect(fromReadme.practices.map((p) => p.ods)).to.deep.equal(['A81001', 'A81002']);
  });
});
