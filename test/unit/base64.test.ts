import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { isCanonicalBase64 } from '../../src/domain/base64.js';

describe('isCanonicalBase64', () => {
  it('accepts what a standard encoder writes, for every length of input', () => {
    for (let n = 1; n <= 64; n++) {
      const encoded = randomBytes(n).toString('base64');
      expect(isCanonicalBase64(encoded), encoded).to.equal(true);
    }
    expect(isCanonicalBase64('QQ==')).to.equal(true);
    expect(isCanonicalBase64('QUE=')).to.equal(true);
    expect(isCanonicalBase64('+/+/')).to.equal(true);
  });

  it('refuses the empty string, wrong lengths and wrong padding', () => {
    for (const bad of ['', 'Q', 'QQ', 'QQ=', 'QUE', 'QQ===', '====', 'Q===', '=QQQ', 'QQ=Q', 'QUJD=', 'QQ==QQ==']) {
      expect(isCanonicalBase64(bad), bad).to.equal(false);
    }
  });

  it('refuses the URL-safe alphabet, whitespace, line breaks and other characters', () => {
    for (const bad of ['PDw_Pz4-', 'QUJD RA==', 'QUJD\r\nRA==', ' QUJDRA==', 'QUJDRA==\n', 'QUJD\u00e9A==', 'QUJD%A==', 'QUJD\u0000A==']) {
      expect(isCanonicalBase64(bad), JSON.stringify(bad)).to.equal(false);
    }
  });

  it('refuses non-zero padding bits, which a standard decoder would silently drop', () => {
    expect(isCanonicalBase64('QR==')).to.equal(false);
    expect(isCanonicalBase64('QUF=')).to.equal(false);
    expect(Buffer.from('QR==', 'base64').toString('base64'), 'why: it does not round-trip').to.equal('QQ==');
  });

  it('checks 5 MB in well under a second, without the regular-expression stack limit', () => {
    const data = randomBytes(3_900_000).toString('base64');
    const started = performance.now();
    expect(isCanonicalBase64(data)).to.equal(true);
    expect(isCanonicalBase64(`${data.slice(0, -4)}!AAA`)).to.equal(false);
    expect(performance.now() - started).to.be.below(500);
  });
});
