import { randomInt } from 'node:crypto';

/**
 * A small seeded PRNG (mulberry32) so a faults run that found something can
 * be replayed: the scenario prints its seed and takes one from
 * `COURIER_FAULTS_SEED`. Returns floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `COURIER_FAULTS_SEED` when set (to replay a run), else a fresh random seed. */
export function faultsSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env['COURIER_FAULTS_SEED'];
  if (given === undefined || given === '') return randomInt(1, 2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('COURIER_FAULTS_SEED must be a non-negative integer');
  return seed;
}
