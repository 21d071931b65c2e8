import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const churn = fileURLToPath(new URL('../fixtures/heap-churn.ts', import.meta.url));

async function peakOldSpace(mode: 'limited' | 'default'): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', churn, mode]);
  return Number(stdout.trim());
}

describe('limitHeapGrowth', function () {
  this.timeout(60_000);

  it('keeps the old generation well below what V8 grows it to by itself under churn', async () => {
    const unlimited = await peakOldSpace('default');
    const limited = await peakOldSpace('limited');
    expect(unlimited).to.be.greaterThan(0);
    // measured: 97-101 MiB by itself, 60 with the limit
    expect(limited).to.be.lessThan(unlimited * 0.8);
  });
});
