// One table per workload: a line per measure, a column per server, then the best peer on that
// line and pasv's ratio to it (pasv's value divided by the best peer's, so above 1 is faster on a
// "higher" line and costlier on a "lower" one).

export interface Measure {
  readonly label: string;
  readonly better: "higher" | "lower";
  /** Value per server name; a missing or NaN value prints "-" (the server failed or timed out). */
  readonly values: ReadonlyMap<string, number>;
  readonly digits: number;
}

const isPasv = (name: string): boolean => name.startsWith("pasv");

function format(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

function ratio(value: number | undefined, best: number | undefined): string {
  if (value === undefined || best === undefined || !Number.isFinite(value) || !Number.isFinite(best)) return "-";
  if (best === 0) return value === 0 ? "1.00x" : "inf";
  return `${(value / best).toFixed(2)}x`;
}

/** The table as lines of text, for `servers` in column order. */
export function ratioTable(title: string, servers: readonly string[], measures: readonly Measure[]): string[] {
  const labelWidth = Math.max(24, ...measures.map((m) => m.label.length + 9));
  const width = Math.max(10, ...servers.map((s) => s.length + 1));
  const pasv = servers.filter(isPasv);
  const header =
    "".padEnd(labelWidth) + servers.map((s) => s.padStart(width)).join("") + "  " + "best peer".padStart(width) + pasv.map((p) => `${p.replace(/^pasv \((.*)\)$/, "$1")}/best`.padStart(11)).join("");
  const out = [title, header];
  for (const m of measures) {
    const peers = servers.filter((s) => !isPasv(s)).filter((s) => Number.isFinite(m.values.get(s) ?? NaN));
    const best = peers.sort((a, b) => (m.better === "higher" ? m.values.get(b)! - m.values.get(a)! : m.values.get(a)! - m.values.get(b)!))[0];
    const bestValue = best === undefined ? undefined : m.values.get(best);
    out.push(
      `${m.label} (${m.better})`.padEnd(labelWidth) +
        servers.map((s) => format(m.values.get(s), m.digits).padStart(width)).join("") +
        "  " +
        (best ?? "-").padStart(width) +
        pasv.map((p) => ratio(m.values.get(p), bestValue).padStart(11)).join(""),
    );
  }
  return out;
}
