// The passive port range: one type, one validation, one pick. The core decides nothing with it (it
// asks for "a listener" and is told the port), so it lives where listeners are made.

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

export const DEFAULT_PASSIVE_PORTS: PortRange = { min: 49152, max: 65534 };

/** Ports below this need privileges and belong to well-known services. */
export const LOWEST_PASSIVE_PORT = 1024;

/** Null when the range is usable, else why not (for a start-up error). */
export function portRangeProblem(range: PortRange): string | null {
  const { min, max } = range;
  if (!Number.isInteger(min) || !Number.isInteger(max)) return `passive ports must be whole numbers (got ${String(min)}-${String(max)})`;
  if (min < LOWEST_PASSIVE_PORT || max > 65535) return `passive ports must lie within ${LOWEST_PASSIVE_PORT}-65535 (got ${min}-${max})`;
  if (min > max) return `passive port range ${min}-${max} is reversed`;
  return null;
}

/** Throws a RangeError naming the problem; returns the range otherwise. */
export function checkPortRange(range: PortRange): PortRange {
  const problem = portRangeProblem(range);
  if (problem !== null) throw new RangeError(problem);
  return range;
}

/** A uniformly random port of the range; `random` is uniform in [0, 1). */
export function pickPort(range: PortRange, random: () => number): number {
  return range.min + Math.min(range.max - range.min, Math.floor(random() * (range.max - range.min + 1)));
}
