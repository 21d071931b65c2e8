import { expect } from 'chai';
import { BAD_INPUT_CORPUS } from '../fixtures/bad-input-corpus.js';
import { SENTINEL_NHS_NUMBER } from '../fixtures/nhs-numbers.js';
import { postMessage, startTestCourier, type TestCourier } from '../support/courier-harness.js';

interface Outcome {
  resourceType: string;
  issue: { severity: string; code: string; diagnostics?: string; expression?: string[] }[];
}

describe('bad input: every malformed request is refused, changes nothing, and echoes nothing', function () {
  let c: TestCourier;
  before(async () => {
    c = await startTestCourier();
  });
  after(async () => {
    await c.stop();
  });

  it('has a corpus of at least 30 cases', () => {
    expect(BAD_INPUT_CORPUS.length).to.be.at.least(30);
  });

  for (const testCase of BAD_INPUT_CORPUS) {
    it(`${testCase.status} for ${testCase.name}`, async () => {
      const headers: Record<string, string> = {};
      if (testCase.contentType !== undefined) headers['content-type'] = testCase.contentType;
      if (testCase.contentEncoding !== undefined) headers['content-encoding'] = testCase.contentEncoding;
      const res = await postMessage(c.baseUrl, testCase.body, headers);
      expect(res.status, res.text).to.equal(testCase.status);
      const outcome = res.json as Outcome;
      expect(outcome.resourceType).to.equal('OperationOutcome');
      expect(outcome.issue.length).to.be.at.least(1);
      expect(outcome.issue[0]?.severity).to.equal('error');
      if (testCase.expression !== undefined) expect(outcome.issue[0]?.expression).to.deep.equal([testCase.expression]);
      expect(res.text).not.to.include(SENTINEL_NHS_NUMBER);
      expect(res.text).not.to.match(/\bat .*\.(ts|js):\d+/); // no stack traces
    });
  }

  it('stored nothing, stayed up, and logged no NHS number', async () => {
    const list = (await (await fetch(`${c.baseUrl}/api/messages?limit=500`)).json()) as { items: unknown[] };
    expect(list.items).to.deep.equal([]);
    expect((await fetch(`${c.baseUrl}/healthz`)).status).to.equal(200);
    expect(c.logs.join('\n')).not.to.include(SENTINEL_NHS_NUMBER);
    const metrics = await (await fetch(`${c.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/courier_letters_refused_total\{reason="profile-violation"\} [1-9]/);
    expect(metrics).not.to.match(/courier_letters_accepted_total\{/);
  });
});
