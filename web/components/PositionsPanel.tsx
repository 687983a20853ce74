"use client";
/** Positions (`GET /positions`) and mark-to-market PnL and drawdown (the API's
 * Prometheus gauges), refreshed every 2 s. */
import { useEffect, useState } from "react";
import { api, metricsText } from "@/lib/api";
import { fmtPnl, fmtSize } from "@/lib/format";
import { byLabel, parseProm } from "@/lib/prom";

interface Positions {
  user_id: number;
  positions: { symbol: string; quantity: number }[];
}

export function PositionsPanel({ highlight }: { highlight?: string }) {
  const [pos, setPos] = useState<Positions | null>(null);
  const [pnl, setPnl] = useState<Record<string, number>>({});
  const [drawdown, setDrawdown] = useState<number | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    async function poll() {
      try {
        const [p, text] = await Promise.all([api<Positions>("/positions"), metricsText()]);
        if (stop) return;
        const samples = parseProm(text);
        setPos(p);
        setPnl(byLabel(samples, "flowsense_trade_pnl_dollars", "symbol"));
        setDrawdown(byLabel(samples, "flowsense_drawdown_dollars", "")[""] ?? null);
      } catch {
        /* next poll */
      }
      if (!stop) timer = setTimeout(poll, 2000);
    }
    void poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, []);
  const symbols = [...new Set([...(pos?.positions.map((p) => p.symbol) ?? []), ...Object.keys(pnl)])].sort();
  const qty = Object.fromEntries(pos?.positions.map((p) => [p.symbol, p.quantity]) ?? []);
  const total = Object.values(pnl).reduce((a, b) => a + b, 0);
  const tone = (x: number) => (x > 0 ? "text-emerald-400" : x < 0 ? "text-red-400" : "");
  return (
    <div data-testid="positions" className="num p-3 text-xs">
      <table className="w-full text-right">
        <thead className="text-slate-500">
          <tr>
            <th className="text-left">Symbol</th>
            <th>Position</th>
            <th>PnL</th>
          </tr>
        </thead>
        <tbody>
          {symbols.map((s) => (
            <tr key={s} className={s === highlight ? "text-white" : "text-slate-400"}>
              <td className="py-0.5 text-left">{s}</td>
              <td>{fmtSize(qty[s] ?? 0)}</td>
              <td className={tone(pnl[s] ?? 0)}>{fmtPnl(pnl[s])}</td>
            </tr>
          ))}
        </tbody>
        <tfoot className="border-t border-edge">
          <tr>
            <td className="pt-1 text-left text-slate-400">Total</td>
            <td />
            <td className={`pt-1 font-semibold ${tone(total)}`}>{fmtPnl(total)}</td>
          </tr>
          <tr>
            <td className="text-left text-slate-400">Drawdown</td>
            <td />
            <td className="text-amber-400">{fmtPnl(drawdown === null ? null : -drawdown)}</td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
