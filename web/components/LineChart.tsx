"use client";
/** A static line (or area) chart of [ns, value] points: equity, drawdown, accuracy. */
import { createChart, type UTCTimestamp } from "lightweight-charts";
import { useEffect, useRef } from "react";
import { darkChart } from "./PriceChart";

export interface SeriesSpec {
  name: string;
  color: string;
  points: [number, number][];
  area?: boolean;
}

export function LineChart({ series, testid }: { series: SeriesSpec[]; testid?: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const chart = createChart(el.current, darkChart);
    for (const s of series) {
      const opts = { title: s.name, lineWidth: 2 as const };
      const api = s.area
        ? chart.addAreaSeries({ ...opts, lineColor: s.color, topColor: `${s.color}55`, bottomColor: `${s.color}05` })
        : chart.addLineSeries({ ...opts, color: s.color });
      let last = -Infinity;
      const data = [];
      for (const [ns, v] of s.points) {
        const time = Math.floor(ns / 1e9);
        if (time <= last || !Number.isFinite(v)) continue;
        last = time;
        data.push({ time: time as UTCTimestamp, value: v });
      }
      api.setData(data);
    }
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [series]);
  return <div ref={el} data-testid={testid} className="h-full w-full" />;
}
