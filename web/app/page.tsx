"use client";
/** Markets: every symbol with its latest prices and signal. */
import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { api } from "@/lib/api";
import { dirLabel, fmtPct, fmtPrice, fmtTime } from "@/lib/format";
import { useMarket } from "@/lib/store";
import type { Prediction } from "@/lib/types";
import { Panel } from "@/components/Panel";
import { useRooms } from "@/components/useRooms";
import { Direction } from "@/components/Direction";

const WATCH = "fs.watch";

export default function Home() {
  const [found, setFound] = useState<string[]>([]);
  const [watch, setWatch] = useState<string[]>([]);
  const [add, setAdd] = useState("");
  const ticks = useMarket((s) => s.ticks);
  const preds = useMarket((s) => s.predictions);

  useEffect(() => {
    setWatch(JSON.parse(localStorage.getItem(WATCH) ?? "[]"));
    let stop = false;
    // The symbols that have predictions; polled until the flow has produced some.
    async function poll() {
      try {
        const rows = await api<Prediction[]>("/predictions?limit=500");
        const syms = [...new Set(rows.map((r) => r.symbol))].sort();
        if (!stop) setFound(syms);
        if (syms.length) return;
      } catch {
        /* retried below */
      }
      if (!stop) setTimeout(poll, 2000);
    }
    void poll();
    return () => {
      stop = true;
    };
  }, []);

  const symbols = useMemo(() => [...new Set([...found, ...watch])].sort(), [found, watch]);
  useRooms(symbols.flatMap((s) => [`ticks.${s}`, `predictions.${s}`]));

  function addSymbol(e: React.FormEvent) {
    e.preventDefault();
    const s = add.trim().toUpperCase();
    if (!/^[A-Z0-9._-]{1,32}$/.test(s)) return;
    const next = [...new Set([...watch, s])];
    setWatch(next);
    localStorage.setItem(WATCH, JSON.stringify(next));
    setAdd("");
  }

  return (
    <Panel
      title="Markets"
      testid="markets"
      right={
        <form onSubmit={addSymbol} className="flex gap-1 normal-case">
          <input
            value={add}
            onChange={(e) => setAdd(e.target.value)}
            placeholder="add symbol"
            className="w-28 rounded border border-edge bg-black/40 px-1.5 py-0.5 text-xs"
          />
        </form>
      }
    >
      <table className="num w-full text-right">
        <thead className="text-xs text-slate-500">
          <tr>
            <th className="px-3 py-1.5 text-left">Symbol</th>
            <th className="px-3">Bid</th>
            <th className="px-3">Ask</th>
            <th className="px-3">Mid</th>
            <th className="px-3">Signal</th>
            <th className="px-3">Confidence</th>
            <th className="px-3">Model</th>
            <th className="px-3">Event time (UTC)</th>
          </tr>
        </thead>
        <tbody>
          {symbols.length === 0 && (
            <tr>
              <td colSpan={8} className="px-3 py-6 text-center text-slate-500">
                Waiting for the first predictions…
              </td>
            </tr>
          )}
          {symbols.map((s) => {
            const t = ticks[s];
            const p = preds[s];
            return (
              <tr key={s} data-testid={`row-${s}`} className="border-t border-edge hover:bg-white/5">
                <td className="px-3 py-1.5 text-left font-semibold">
                  <Link href={`/symbol/?s=${encodeURIComponent(s)}`} className="text-sky-400 hover:underline">
                    {s}
                  </Link>
                </td>
                <td className="px-3 text-emerald-400">{fmtPrice(t?.bid_px)}</td>
                <td className="px-3 text-red-400">{fmtPrice(t?.ask_px)}</td>
                <td className="px-3" data-testid={`mid-${s}`}>{fmtPrice(t?.mid)}</td>
                <td className="px-3">
                  <Direction d={p?.direction} /> <span className="text-xs text-slate-400">{dirLabel(p?.direction)}</span>
                </td>
                <td className="px-3">{fmtPct(p?.confidence)}</td>
                <td className="px-3 text-slate-400">{p?.model ?? "—"}</td>
                <td className="px-3 text-slate-400">{fmtTime(t?.ts_event)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Panel>
  );
}
