import { expect } from 'chai';
import { bodyBytesToReserve, IngestAdmission } from '../../src/adapters/http/ingest-admission.js';

describe('ingest admission', () => {
  it('admits up to maxRequests at once and refuses the next until one is released', () => {
    const admission = new IngestAdmission({ maxRequests: 2, maxBodyBytes: 1_000_000 });
    const first = admission.tryAdmit(10);
    const second = admission.tryAdmit(10);
    expect(first).to.be.a('function');
    expect(second).to.be.a('function');
    expect(admission.tryAdmit(10)).to.equal(undefined);
    first?.();
    expect(admission.inFlight).to.deep.equal({ requests: 1, bodyBytes: 10 });
    expect(admission.tryAdmit(10)).to.be.a('function');
  });

  it('refuses a request whose body would pass the byte budget, and admits a smaller one', () => {
    const admission = new IngestAdmission({ maxRequests: 10, maxBodyBytes: 1_000 });
    admission.tryAdmit(600);
    expect(admission.tryAdmit(401)).to.equal(undefined);
    expect(admission.tryAdmit(400)).to.be.a('function');
    expect(admission.inFlight).to.deep.equal({ requests: 2, bodyBytes: 1_000 });
  });

  it('always admits a request when none is in flight, even one larger than the budget', () => {
    const admission = new IngestAdmission({ maxRequests: 1, maxBodyBytes: 100 });
    const release = admission.tryAdmit(5_000);
    expect(release).to.be.a('function');
    expect(admission.tryAdmit(1)).to.equal(undefined);
    release?.();
    expect(admission.inFlight).to.deep.equal({ requests: 0, bodyBytes: 0 });
  });

  it('frees a share once however often its release is called', () => {
    const admission = new IngestAdmission({ maxRequests: 3, maxBodyBytes: 1_000 });
    const release = admission.tryAdmit(100);
    admission.tryAdmit(200);
    release?.();
    release?.();
    expect(admission.inFlight).to.deep.equal({ requests: 1, bodyBytes: 200 });
  });

  it('rejects limits that would refuse everything or nothing', () => {
    expect(() => new IngestAdmission({ maxRequests: 0, maxBodyBytes: 1 })).to.throw(RangeError);
    expect(() => new IngestAdmission({ maxRequests: 1.5, maxBodyBytes: 1 })).to.throw(RangeError);
    expect(() => new IngestAdmission({ maxRequests: 1, maxBodyBytes: 0 })).to.throw(RangeError);
  });

  describe('bytes reserved before the body is read', () => {
    const max = 5 * 1024 * 1024;
    it('is the declared length of a plain body, at most the body limit', () => {
      expect(bodyBytesToReserve({ 'content-length': '8190' }, max)).to.equal(8190);
      expect(bodyBytesToReserve({ 'content-length': '0' }, max)).to.equal(0);
      expect(bodyBytesToReserve({ 'content-length': String(max * 4) }, max)).to.equal(max);
    });
    it('is the body limit when the length is not known up front: gzip, chunked or unreadable', () => {
      expect(bodyBytesToReserve({ 'content-length': '8190', 'content-encoding': 'gzip' }, max)).to.equal(max);
      expect(bodyBytesToReserve({}, max)).to.equal(max);
      expect(bodyBytesToReserve({ 'content-length': 'ten' }, max)).to.equal(max);
      expect(bodyBytesToReserve({ 'content-length': '-5' }, max)).to.equal(max);
    });
  });
});
