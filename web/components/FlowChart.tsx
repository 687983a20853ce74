"use client";
/** OFI and traded volume per bar (the replay's bars, `GET /bars/{symbol}`), refreshed
 * every few seconds: summed order-flow imbalance as a signed histogram, volume (or the
 * event count where a store has no volume) as a histogram on its own scale. */
import { createChart, type HistogramData, type UTCTimestamp } from "lightweight-charts";
import { useEffect, useRef } from "react";
import { api } from "@/lib/api";
import { chartTime, darkChart } from "./PriceChart";

interface BarRow {
  ts_event: number;
  ofi: number | null;
  volume?: number | null;
  n_events?: number | null;
}

export const BARS = 300;

export function toHistograms(rows: BarRow[]): { ofi: HistogramData[]; volume: HistogramData[] } {
  const ofi: HistogramData[] = [];
  const volume: HistogramData[] = [];
  let last = -Infinity;
  for (const r of [...rows].sort((a, b) => a.ts_event - b.ts_event)) {
    const time = chartTime(r.ts_event) as UTCTimestamp;
    if (time <= last) continue; // one bar per chart second
    last = time;
    const o = r.ofi ?? 0;
    ofi.push({ time, value: o, color: o >= 0 ? "#16a34a" : "#dc2626" });
    volume.push({ time, value: r.volume ?? r.n_events ?? 0, color: "#334155" });
  }
  return { ofi, volume };
}

export function FlowChart({ symbol }: { symbol: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current;
    if (!box) return;
    const chart = createChart(box, { ...darkChart, leftPriceScale: { visible: true, borderColor: "#1f2733" } });
    const vol = chart.addHistogramSeries({ priceScaleId: "left", title: "volume", priceFormat: { type: "volume" } });
    const ofi = chart.addHistogramSeries({ title: "OFI", priceFormat: { type: "volume" } });
    let stop = false;
    let first = true;
    let timer: ReturnType<typeof setTimeout>;
    async function poll() {
      try {
        const rows = await api<BarRow[]>(`/bars/${encodeURIComponent(symbol)}?limit=${BARS}`);
        if (stop) return;
        const h = toHistograms(rows);
        ofi.setData(h.ofi);
        vol.setData(h.volume);
        box!.dataset.bars = String(h.ofi.length);
        if (first && h.ofi.length) chart.timeScale().fitContent();
        first = false;
      } catch {
        /* next poll */
      }
      if (!stop) timer = setTimeout(poll, 3000);
    }
    void poll();
    return () => {
      stop = true;
      clearTimeout(timer);
      chart.remove();
    };
  }, [symbol]);
  return <div ref={el} data-testid="flow-chart" className="h-full w-full" />;
}
