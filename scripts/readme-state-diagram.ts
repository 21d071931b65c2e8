import { stateDiagram } from '../src/domain/state-diagram.js';

/**
 * The README's generated state diagram: the text between the line holding
 * `<!-- state-diagram:start … -->` and the line `<!-- state-diagram:end -->`.
 * Only that text is ever rewritten; the markers and everything around them
 * stay as they are.
 */
const BLOCK = /(^<!-- state-diagram:start[^\n]*-->\n)([\s\S]*?)(^<!-- state-diagram:end -->$)/m;

/** What belongs between the markers: the diagram `transition()` yields, as a fenced Mermaid block. */
export function expectedDiagramBlock(): string {
  return ['```mermaid', stateDiagram(), '```', ''].join('\n');
}

/** The text now between the markers; throws when the markers are missing or doubled. */
export function currentDiagramBlock(readme: string): string {
  return markedBlock(readme)[2] ?? '';
}

/** The README with the text between the markers replaced by the generated diagram. */
export function withCurrentDiagram(readme: string): string {
  markedBlock(readme);
  return readme.replace(BLOCK, (_all, start: string, _old: string, end: string) => `${start}${expectedDiagramBlock()}${end}`);
}

function markedBlock(readme: string): RegExpExecArray {
  const match = BLOCK.exec(readme);
  const starts = readme.match(/^<!-- state-diagram:start/gm)?.length ?? 0;
  if (match === null || starts !== 1) {
    throw new Error('README.md must hold exactly one "<!-- state-diagram:start … -->" line followed by a "<!-- state-diagram:end -->" line');
  }
  return match;
}
