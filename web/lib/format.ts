/** Number and time formatting for the trading screens. */

const NS_PER_MS = 1_000_000;

/** A price with the decimals its magnitude needs (4 under 10, else 2), or an em dash. */
export function fmtPrice(x: number | null | undefined, decimals?: number): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const d = decimals ?? (Math.abs(x) < 10 ? 4 : 2);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A size: integers as such, fractions (crypto) to 4 decimals; thousands separated. */
export function fmtSize(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const d = Number.isInteger(x) ? 0 : 4;
  return x.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: d });
}

/** Signed money with two decimals: "+1,234.50", "-12.00". */
export function fmtPnl(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const s = Math.abs(x).toLocaleString("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return `${x > 0 ? "+" : x < 0 ? "-" : ""}${s}`;
}

/** A probability as a percentage with one decimal. */
export function fmtPct(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "—";
  return `${(p * 100).toFixed(1)}%`;
}

/** Event time (int ns since the epoch, UTC) as HH:MM:SS.mmm UTC. */
export function fmtTime(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return "—";
  const d = new Date(Math.floor(ns / NS_PER_MS));
  return d.toISOString().slice(11, 23);
}

/** Direction -1/0/1 as a word. */
export function dirLabel(d: number | null | undefined): "down" | "flat" | "up" | "—" {
  if (d === null || d === undefined) return "—";
  return d > 0 ? "up" : d < 0 ? "down" : "flat";
}
