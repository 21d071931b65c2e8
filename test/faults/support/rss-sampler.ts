import { readFileSync } from 'node:fs';

const KIB_PER_MIB = 1024;

/** A `kB` field of /proc/<pid>/status in MiB, or undefined when the process is gone. */
export function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // the process has exited (or this system has no /proc)
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]) / KIB_PER_MIB;
}

/**
 * Samples a child process's resident set (VmRSS in /proc/<pid>/status) at a
 * fixed interval and keeps the peak per named phase of a scenario, so a
 * figure can say where the memory went. Samples can miss a short spike
 * between two reads; `VmHWM` (the kernel's own high-water mark over the
 * process's life) does not, and is what a bound should be asserted on.
 */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private current: string;
  private timer: NodeJS.Timeout | undefined;
  samples = 0;

  private constructor(
    private readonly pid: number,
    phase: string,
  ) {
    this.current = phase;
  }

  static start(pid: number, phase: string, intervalMs = 250): RssSampler {
    const sampler = new RssSampler(pid, phase);
    sampler.sample();
    sampler.timer = setInterval(() => sampler.sample(), intervalMs);
    return sampler;
  }

  /** Samples from now on count towards `phase` (one sample is taken at the switch). */
  phase(phase: string): void {
    this.sample();
    this.current = phase;
    this.sample();
  }

  /** Peak VmRSS seen in `phase`, MiB (0 when none was sampled). */
  peakMiB(phase: string): number {
    return this.peaks.get(phase) ?? 0;
  }

  /** The process's VmHWM now: its peak resident set since it started, MiB. */
  highWaterMiB(): number | undefined {
    return statusMiB(this.pid, 'VmHWM');
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    const rss = statusMiB(this.pid, 'VmRSS');
    if (rss === undefined) return;
    this.samples++;
    this.peaks.set(this.current, Math.max(this.peaks.get(this.current) ?? 0, rss));
  }
}
