/** The depth ladder: asks above (highest first), bids below, with cumulative sizes and
 * bar widths relative to the largest level on screen. */

export type Level = [price: number, size: number];

export interface LadderRow {
  side: "ask" | "bid";
  price: number;
  size: number;
  cumulative: number;
  /** size / largest size on the ladder, 0..1 (bar width) */
  weight: number;
}

export interface Ladder {
  rows: LadderRow[];
  spread: number | null;
  /** (bid - ask) / (bid + ask) of the sizes shown, -1..1 */
  imbalance: number | null;
}

function clean(levels: Level[] | null | undefined, depth: number): Level[] {
  return (levels ?? [])
    .filter(([p, s]) => Number.isFinite(p) && Number.isFinite(s) && s > 0)
    .slice(0, depth);
}

export function buildLadder(
  bids: Level[] | null | undefined,
  asks: Level[] | null | undefined,
  depth = 10,
): Ladder {
  const b = clean(bids, depth).sort((x, y) => y[0] - x[0]);
  const a = clean(asks, depth).sort((x, y) => x[0] - y[0]);
  const max = Math.max(1e-12, ...b.map((l) => l[1]), ...a.map((l) => l[1]));
  let cum = 0;
  const askRows = a.map(([price, size]) => {
    cum += size;
    return { side: "ask" as const, price, size, cumulative: cum, weight: size / max };
  });
  cum = 0;
  const bidRows = b.map(([price, size]) => {
    cum += size;
    return { side: "bid" as const, price, size, cumulative: cum, weight: size / max };
  });
  const bidSum = b.reduce((s, l) => s + l[1], 0);
  const askSum = a.reduce((s, l) => s + l[1], 0);
  return {
    rows: [...askRows.reverse(), ...bidRows],
    spread: a.length && b.length ? a[0][0] - b[0][0] : null,
    imbalance: bidSum + askSum > 0 ? (bidSum - askSum) / (bidSum + askSum) : null,
  };
}
