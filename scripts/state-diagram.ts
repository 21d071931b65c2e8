/**
 * `npm run diagram`: rewrites the state diagram in README.md from the code
 * (src/domain/state-diagram.ts), between the `state-diagram:start` and
 * `state-diagram:end` markers only. Run it after changing the state machine;
 * test/unit/state-diagram.test.ts fails until you do.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { currentDiagramBlock, expectedDiagramBlock, withCurrentDiagram } from './readme-state-diagram.js';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const readme = readFileSync(readmePath, 'utf8');
if (currentDiagramBlock(readme) === expectedDiagramBlock()) {
  console.log('README.md state diagram is up to date');
} else {
  writeFileSync(readmePath, withCurrentDiagram(readme));
  console.log('README.md state diagram rewritten from src/domain/transition.ts');
}
