import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { DELIVERY_EVENT_KINDS } from '../../src/domain/delivery-events.js';
import { MESSAGE_STATES, isFinalState } from '../../src/domain/message-state.js';
import { stateDiagram, stateDiagramEdges } from '../../src/domain/state-diagram.js';
import { currentDiagramBlock, expectedDiagramBlock, withCurrentDiagram } from '../../scripts/readme-state-diagram.js';

const README = new URL('../../README.md', import.meta.url);

describe('state diagram generated from transition()', () => {
  it('README.md shows the diagram the code yields', () => {
    const readme = readFileSync(README, 'utf8');
    expect(currentDiagramBlock(readme), 'README.md state diagram is stale: run `npm run diagram`').to.equal(expectedDiagramBlock());
  });

  it('is a Mermaid stateDiagram-v2 entered at received, with every state and final states leaving to [*]', () => {
    const lines = stateDiagram().split('\n');
    expect(lines[0]).to.equal('stateDiagram-v2');
    expect(lines[1]).to.equal('    [*] --> received');
    for (const state of MESSAGE_STATES) {
      expect(lines.some((line) => line.includes(` ${state} `)), state).to.equal(true);
      expect(lines.includes(`    ${state} --> [*]`), state).to.equal(isFinalState(state));
    }
  });

  it('has no edge out of a final state, and every event kind moves some letter', () => {
    const edges = stateDiagramEdges();
    expect(edges.filter((e) => isFinalState(e.from))).to.deep.equal([]);
    expect(new Set(edges.map((e) => e.event))).to.have.keys([...DELIVERY_EVENT_KINDS]);
  });

  it('draws the moves DESIGN §4–§5 names', () => {
    const edges = new Set(stateDiagramEdges().map((e) => `${e.from} --> ${e.to} : ${e.event}`));
    for (const edge of [
      'received --> dispatched : published',
      'dispatched --> delivered : infrastructure-ack',
      'delivered --> filed : business-ack',
      'dispatched --> retrying : ack-timeout',
      'retrying --> dispatched : published',
      'dispatched --> escalated : ack-timeout',
      'delivered --> escalated : deadline-passed',
      'retrying --> escalated : dead-lettered',
      'escalated --> retrying : retry',
      'escalated --> filed : business-ack',
      'received --> resolved : resolve',
    ]) {
      expect(edges.has(edge), edge).to.equal(true);
    }
    expect(edges.has('escalated --> escalated : deadline-passed')).to.equal(false);
    expect(edges.has('retrying --> retrying : retry')).to.equal(false);
  });

  it('is the same on every run: deduplicated and stably ordered', () => {
    const edges = stateDiagramEdges();
    expect(stateDiagramEdges()).to.deep.equal(edges);
    expect(new Set(edges.map((e) => `${e.from} ${e.to} ${e.event}`)).size).to.equal(edges.length);
    // By state, then target state, then event kind, each in declaration order.
    const rank = (e: (typeof edges)[number]) =>
      (MESSAGE_STATES.indexOf(e.from) * MESSAGE_STATES.length + MESSAGE_STATES.indexOf(e.to)) * DELIVERY_EVENT_KINDS.length + DELIVERY_EVENT_KINDS.indexOf(e.event);
    const ranks = edges.map(rank);
    expect(ranks).to.deep.equal([...ranks].sort((x, y) => x - y));
  });

  it('rewrites only the text between the markers', () => {
    const readme = ['# Title', 'before', '<!-- state-diagram:start (generated) -->', 'old diagram', '<!-- state-diagram:end -->', 'after', ''].join('\n');
    const rewritten = withCurrentDiagram(readme);
    expect(rewritten).to.equal(['# Title', 'before', '<!-- state-diagram:start (generated) -->', expectedDiagramBlock() + '<!-- state-diagram:end -->', 'after', ''].join('\n'));
    expect(withCurrentDiagram(rewritten)).to.equal(rewritten);
    expect(() => withCurrentDiagram('# no markers\n')).to.throw(/state-diagram:start/);
    expect(() => withCurrentDiagram(`${readme}\n${readme}`)).to.throw(/exactly one/);
  });
});
