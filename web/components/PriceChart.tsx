"use client";
/** Mid and micro-price lines with trade markers (one point per event-time second), fed
 * per animation frame from the `features.{SYM}` room. Bounded: the series are reset to
 * the newest MAX_POINTS points whenever as many new ones have been appended, so
 * lightweight-charts' own data does not grow over a long session. */
import {
  ColorType,
  createChart,
  type IChartApi,
  type ISeriesApi,
  type LineData,
  type SeriesMarker,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import { api } from "@/lib/api";
import { getFeed } from "@/lib/feed";
import { Ring } from "@/lib/ring";
import type { FeatureRow } from "@/lib/types";

export const MAX_POINTS = 3000;
const MAX_MARKERS = 150;

export const darkChart = {
  layout: { background: { type: ColorType.Solid, color: "#11161f" }, textColor: "#8a96a8", fontSize: 11 },
  grid: { vertLines: { color: "#1a212c" }, horzLines: { color: "#1a212c" } },
  timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#1f2733" },
  rightPriceScale: { borderColor: "#1f2733" },
  autoSize: true,
} as const;

/** Event time (ns) -> chart time (whole seconds). */
export const chartTime = (ns: number) => Math.floor(ns / 1e9) as UTCTimestamp;

class Line {
  ring: Ring<LineData>;
  appended = 0;
  constructor(
    readonly series: ISeriesApi<"Line">,
    readonly maxPoints: number,
  ) {
    this.ring = new Ring<LineData>(maxPoints);
  }

  add(time: UTCTimestamp, value: number | null | undefined, live: boolean): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    const last = this.ring.last();
    if (last && time < (last.time as number)) return; // late row: the chart only moves forward
    const point = { time, value };
    if (last && last.time === time) this.ring.setLast(point);
    else {
      this.ring.push(point);
      this.appended += 1;
    }
    if (!live) return;
    if (this.appended >= this.maxPoints) this.reset();
    else this.series.update(point);
  }

  reset(): void {
    this.series.setData(this.ring.toArray());
    this.appended = 0;
  }
}

export function PriceChart({ symbol, maxPoints = MAX_POINTS }: { symbol: string; maxPoints?: number }) {
  const el = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const box = el.current;
    if (!box) return;
    const chart: IChartApi = createChart(box, darkChart);
    const mid = new Line(chart.addLineSeries({ color: "#38bdf8", lineWidth: 2, title: "mid" }), maxPoints);
    const micro = new Line(
      chart.addLineSeries({ color: "#f59e0b", lineWidth: 1, title: "micro-price", lineStyle: 2 }),
      maxPoints,
    );
    const markers = new Ring<SeriesMarker<UTCTimestamp>>(MAX_MARKERS);
    let updates = 0;

    function add(r: FeatureRow, live: boolean): boolean {
      const t = chartTime(r.ts_event);
      mid.add(t, r.mid, live);
      micro.add(t, r.microprice, live);
      const sz = r.trade_sz ?? 0;
      if (sz !== 0 && Number.isFinite(sz)) {
        markers.push({
          time: t,
          position: sz > 0 ? "belowBar" : "aboveBar",
          color: sz > 0 ? "#22c55e" : "#ef4444",
          shape: sz > 0 ? "arrowUp" : "arrowDown",
          size: 0.6,
        });
        return true;
      }
      return false;
    }

    function show(): void {
      box!.dataset.points = String(mid.ring.length);
      box!.dataset.updates = String(updates);
      box!.dataset.last = String(mid.ring.last()?.value ?? "");
    }

    let cancelled = false;
    api<FeatureRow[]>(`/features/${encodeURIComponent(symbol)}?limit=1000`)
      .then((rows) => {
        if (cancelled) return;
        for (const r of rows.reverse()) add(r, false);
        mid.reset();
        micro.reset();
        micro.series.setMarkers(markers.toArray());
        chart.timeScale().scrollToRealTime();
        show();
      })
      .catch(() => undefined);

    const off = getFeed().onFrame((b) => {
      const r = b.features.get(symbol);
      if (!r) return;
      updates += 1;
      if (add(r, true)) micro.series.setMarkers(markers.toArray());
      show();
    });
    return () => {
      cancelled = true;
      off();
      chart.remove();
    };
  }, [symbol, maxPoints]);

  return <div ref={el} data-testid="price-chart" className="h-full w-full" />;
}
