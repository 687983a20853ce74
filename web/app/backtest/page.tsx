"use client";
/** Backtests: submit a replay of stored data with a predictor, follow its progress, then
 * its equity curve, drawdown and trades. */
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import { drawdowns, maxDrawdown } from "@/lib/equity";
import { fmtPct, fmtPnl, fmtPrice, fmtSize, fmtTime } from "@/lib/format";
import { LineChart } from "@/components/LineChart";
import { Panel } from "@/components/Panel";

interface Job {
  id: string;
  status: "queued" | "running" | "done" | "failed";
  data: string;
  predictor: string;
  summary: Record<string, unknown> | null;
  error: string | null;
  progress?: { rows: number; total: number } | null;
}
interface Trade {
  ts_event: number;
  symbol: string;
  side: number;
  quantity: number;
  price: number;
  position_after: number;
}

const PREDICTORS = ["ofi", "inverted", "hawkes", "transformer", "ensemble"];

export default function BacktestPage() {
  const [data, setData] = useState("lobster");
  const [predictor, setPredictor] = useState("ofi");
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!job || job.status === "done" || job.status === "failed") return;
    const t = setTimeout(async () => {
      try {
        setJob(await api<Job>(`/backtest/${job.id}`));
      } catch (e) {
        setError(String(e));
      }
    }, 1000);
    return () => clearTimeout(t);
  }, [job]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      setJob(await api<Job>("/backtest", { method: "POST", body: JSON.stringify({ data, predictor }) }));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  const curve = (job?.summary?.equity_curve as [number, number][] | undefined) ?? [];
  const trades = (job?.summary?.recent_fills as Trade[] | undefined) ?? [];
  const charts = useMemo(
    () => ({
      equity: [{ name: "equity", color: "#38bdf8", points: curve, area: true }],
      dd: [{ name: "drawdown", color: "#ef4444", points: drawdowns(curve).map(([t, d]) => [t, d * 100] as [number, number]), area: true }],
    }),
    [curve],
  );
  const pct = job?.progress?.total ? Math.min(1, job.progress.rows / job.progress.total) : null;

  return (
    <div className="grid grid-cols-12 gap-3">
      <Panel title="New backtest" className="col-span-12 lg:col-span-4">
        <form onSubmit={submit} className="space-y-3 p-3 text-xs">
          <label className="block">
            <span className="text-slate-400">Data (file or folder under the backtest root)</span>
            <input
              name="data"
              value={data}
              onChange={(e) => setData(e.target.value)}
              className="mt-1 w-full rounded border border-edge bg-black/40 px-2 py-1"
            />
          </label>
          <label className="block">
            <span className="text-slate-400">Predictor</span>
            <select
              name="predictor"
              value={predictor}
              onChange={(e) => setPredictor(e.target.value)}
              className="mt-1 w-full rounded border border-edge bg-black/40 px-2 py-1"
            >
              {PREDICTORS.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
          <button className="rounded bg-sky-600 px-3 py-1 font-medium text-white" type="submit">
            Run backtest
          </button>
          {error && <p role="alert" className="text-red-400">{error}</p>}
          {job && (
            <div data-testid="backtest-status" className="space-y-1">
              <div>
                {job.status} · {job.predictor} · {job.data}
              </div>
              {job.status === "running" && (
                <div className="h-2 w-full rounded bg-white/10">
                  <div className="h-2 rounded bg-sky-500" style={{ width: `${((pct ?? 0) * 100).toFixed(1)}%` }} />
                </div>
              )}
              {pct !== null && job.status === "running" && <div className="text-slate-400">{fmtPct(pct)}</div>}
              {job.error && <p className="text-red-400">{job.error}</p>}
            </div>
          )}
        </form>
      </Panel>
      <Panel title="Result" className="col-span-12 lg:col-span-8">
        {job?.status === "done" ? (
          <div className="num grid grid-cols-4 gap-3 p-3 text-xs">
            <Stat label="Final equity" value={fmtPrice(curve.at(-1)?.[1])} />
            <Stat label="PnL" value={fmtPnl(curve.length ? curve.at(-1)![1] - curve[0][1] : null)} />
            <Stat label="Max drawdown" value={fmtPct(maxDrawdown(curve))} />
            <Stat label="Halted" value={String((job.summary as { halted?: boolean })?.halted ?? false)} />
          </div>
        ) : (
          <p className="p-3 text-xs text-slate-500">Submit a backtest to see its equity curve.</p>
        )}
      </Panel>
      {job?.status === "done" && (
        <>
          <Panel title="Equity" className="col-span-12 h-[260px] lg:col-span-6">
            <LineChart series={charts.equity} testid="equity-chart" />
          </Panel>
          <Panel title="Drawdown (%)" className="col-span-12 h-[260px] lg:col-span-6">
            <LineChart series={charts.dd} />
          </Panel>
          <Panel title={`Trades (last ${trades.length})`} className="col-span-12">
            <div className="max-h-80 overflow-auto">
              <table className="num w-full text-right text-xs" data-testid="trades">
                <thead className="sticky top-0 bg-panel text-slate-500">
                  <tr>
                    <th className="px-2 text-left">Time (UTC)</th>
                    <th className="text-left">Symbol</th>
                    <th>Side</th>
                    <th>Qty</th>
                    <th>Price</th>
                    <th className="px-2">Position after</th>
                  </tr>
                </thead>
                <tbody>
                  {[...trades].reverse().map((t, i) => (
                    <tr key={i} className="border-t border-edge">
                      <td className="px-2 text-left">{fmtTime(t.ts_event)}</td>
                      <td className="text-left">{t.symbol}</td>
                      <td className={t.side > 0 ? "text-emerald-400" : "text-red-400"}>{t.side > 0 ? "buy" : "sell"}</td>
                      <td>{fmtSize(t.quantity)}</td>
                      <td>{fmtPrice(t.price)}</td>
                      <td className="px-2">{fmtSize(t.position_after)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Panel>
        </>
      )}
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded border border-edge p-2">
      <div className="text-slate-500">{label}</div>
      <div className="text-base">{value}</div>
    </div>
  );
}
