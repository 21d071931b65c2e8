import { expect } from 'chai';
import { checkContentType } from '../../src/adapters/http/read-body.js';
import { UnsupportedMediaTypeError } from '../../src/app/errors.js';

describe('checkContentType (DESIGN §2 step 1)', () => {
  for (const ok of [
    'application/fhir+json',
    'application/json',
    'application/fhir+json; charset=utf-8',
    'Application/FHIR+JSON; charset=UTF-8; fhirVersion=4.0',
    'application/json;charset="utf-8"',
  ]) {
    it(`accepts ${ok}`, () => expect(() => checkContentType(ok)).not.to.throw());
  }
  for (const bad of [undefined, '', 'text/plain', 'application/xml', 'application/fhir+xml', 'application/json; charset=latin1', 'application/fhir+json; fhirVersion=3.0', 'multipart/form-data']) {
    it(`refuses ${String(bad)}`, () => expect(() => checkContentType(bad)).to.throw(UnsupportedMediaTypeError));
  }
});
