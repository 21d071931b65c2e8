/**
 * ISO 8601 durations as used in Courier's configuration (`PT10M`, `PT2S`,
 * `PT0.5S`, `P7D`, `P1DT2H`). Years and months are refused: their length
 * depends on the calendar, and a clinical deadline must mean one fixed span.
 * Weeks (`P2W`) are allowed alone, as the standard says.
 */
const PATTERN = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?)$/;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds in the duration, or undefined when it is not one Courier accepts. */
export function parseDurationMs(text: string): number | undefined {
  const match = PATTERN.exec(text);
  if (match === null || text === 'P' || text.endsWith('T')) return undefined;
  const [, weeks, days, hours, minutes, seconds] = match;
  if (weeks !== undefined) return Number(weeks) * 7 * DAY;
  const total =
    Number(days ?? 0) * DAY + Number(hours ?? 0) * HOUR + Number(minutes ?? 0) * MINUTE + Math.round(Number(seconds ?? 0) * SECOND);
  return Number.isSafeInteger(total) ? total : undefined;
}
