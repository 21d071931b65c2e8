/**
 * Benchmarks (npm run bench). Not tests: numbers to compare between commits.
 *  1. validation throughput: strict JSON + HL7 R4 schema + Courier rules on a
 *     50-entry letter (a DocumentReference letter padded with 46 Observations);
 *  2. ingest latency: sequential POSTs to a real Courier (PGlite in a temp
 *     dir, local RabbitMQ), p50/p99 and letters/s;
 *  3. the backlog benchmark (bench/backlog.ts): the raw broker baseline, the
 *     protocol floor (bench/protocol-floor.ts: DESIGN's per-letter broker work
 *     in plain amqplib, no Courier — the ceiling for any implementation), then
 *     Courier as a child process taking BENCH_LETTERS (default 53,000) 8 KiB
 *     letters to `filed` through simulated practices, and an open loop at
 *     BENCH_RATE letters/s, on PGlite and PostgreSQL; writes
 *     bench/results/<date>.json and prints the table the README shows. See
 *     that file for its knobs (BENCH_SKIP=raw,floor,backlog,openloop skips
 *     phases).
 * bench/delivery.ts (the same delivery run with Courier in this process, step
 * medians included) runs on its own: `npx tsx bench/delivery.ts`.
 */
import { randomUUID } from 'node:crypto';
import { createFhirSchemaValidator } from '../src/adapters/fhir/fhir-schema-validator.js';
import { parseStrictJson } from '../src/adapters/fhir/strict-json.js';
import { checkLetter, type Bundle } from '../src/domain/letter-rules.js';
import type { OdsCode } from '../src/domain/ids.js';
import { syntheticDocumentReferenceLetter } from '../test/fixtures/letters.js';
import { postMessage, startTestCourier } from '../test/support/courier-harness.js';
import { runBacklogBenchmarks } from './backlog.js';

function fiftyEntryLetter(): Buffer {
  const letter = syntheticDocumentReferenceLetter();
  for (let i = 0; i < 46; i++) {
    letter.entry.push({
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
        valueQuantity: { value: 60 + i, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
      },
    });
  }
  return Buffer.from(JSON.stringify(letter));
}

function validationThroughput(): void {
  const compileStart = performance.now();
  const schema = createFhirSchemaValidator();
  const compileMs = performance.now() - compileStart;
  const body = fiftyEntryLetter();
  const directory = { isKnownPractice: (ods: OdsCode) => ods === 'A81001', supportedEvents: new Set(['ITK003D']) };
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const json = parseStrictJson(body);
      if (!json.ok || schema.validate(json.value).length > 0 || !checkLetter(json.value as Bundle, directory).ok) throw new Error('invalid');
    }
  };
  run(200); // warm-up
  const n = 3000;
  const start = performance.now();
  run(n);
  const seconds = (performance.now() - start) / 1000;
  console.log(`validation: schema compile ${compileMs.toFixed(0)} ms; 50-entry letter (${body.length} bytes): ${(n / seconds).toFixed(0)} bundles/s`);
}

async function ingestLatency(): Promise<void> {
  const courier = await startTestCourier();
  try {
    const n = 500;
    const letters = Array.from({ length: n + 20 }, () => syntheticDocumentReferenceLetter());
    for (const letter of letters.slice(0, 20)) await postMessage(courier.baseUrl, letter); // warm-up
    const latencies: number[] = [];
    const start = performance.now();
    for (const letter of letters.slice(20)) {
      const t = performance.now();
      const res = await postMessage(courier.baseUrl, letter);
      latencies.push(performance.now() - t);
      if (res.status !== 202) throw new Error(`status ${res.status}`);
    }
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(1);
    console.log(`ingest (PGlite, sequential, ${n} letters): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ${(n / seconds).toFixed(0)} letters/s`);
  } finally {
    await courier.stop();
  }
}

validationThroughput();
await ingestLatency();
await runBacklogBenchmarks();
