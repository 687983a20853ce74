/** Drawdown of an equity curve: equity / running peak - 1 (0 at a new peak, negative below). */
export function drawdowns(curve: [number, number][]): [number, number][] {
  let peak = -Infinity;
  return curve.map(([t, e]) => {
    peak = Math.max(peak, e);
    return [t, peak > 0 ? e / peak - 1 : 0];
  });
}

export function maxDrawdown(curve: [number, number][]): number {
  return drawdowns(curve).reduce((m, [, d]) => Math.min(m, d), 0);
}
