"use client";
/** Models: each model's direction hit rate (the API's `flowsense_model_accuracy_percent`
 * gauge), sampled every 5 s while the page is open: accuracy over time. */
import { useEffect, useMemo, useState } from "react";
import { metricsText } from "@/lib/api";
import { byLabel, parseProm } from "@/lib/prom";
import { Ring } from "@/lib/ring";
import { LineChart } from "@/components/LineChart";
import { Panel } from "@/components/Panel";

const COLORS = ["#38bdf8", "#f59e0b", "#a78bfa", "#22c55e", "#f472b6"];
const KEEP = 720; // one hour at 5 s
/** Samples per model, kept across visits to the page during this session (bounded). */
const history = new Map<string, Ring<[number, number]>>();

export default function ModelsPage() {
  const [tick, setTick] = useState(0);
  const [latest, setLatest] = useState<Record<string, number>>({});

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    async function poll() {
      const acc = byLabel(parseProm(await metricsText().catch(() => "")), "flowsense_model_accuracy_percent", "model");
      if (stop) return;
      const now = Date.now() * 1e6;
      for (const [m, v] of Object.entries(acc)) {
        if (!history.has(m)) history.set(m, new Ring(KEEP));
        history.get(m)!.push([now, v]);
      }
      setLatest(acc);
      setTick((t) => t + 1);
      timer = setTimeout(poll, 5000);
    }
    void poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, []);

  const series = useMemo(
    () => [...history].map(([m, ring], i) => ({ name: m, color: COLORS[i % COLORS.length], points: ring.toArray() })),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [tick],
  );
  return (
    <div className="grid grid-cols-12 gap-3">
      <Panel title="Models · hit rate at the next mid change" className="col-span-12 lg:col-span-4">
        <table className="num w-full text-xs" data-testid="models">
          <thead className="text-slate-500">
            <tr>
              <th className="px-3 py-1 text-left">Model</th>
              <th className="px-3 text-right">Accuracy</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(latest).map(([m, v]) => (
              <tr key={m} className="border-t border-edge">
                <td className="px-3 py-1">{m}</td>
                <td className="px-3 text-right">{v.toFixed(1)}%</td>
              </tr>
            ))}
            {!Object.keys(latest).length && (
              <tr>
                <td colSpan={2} className="px-3 py-3 text-slate-500">
                  No scored predictions yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <p className="px-3 py-2 text-xs text-slate-500">
          Offline scores (macro F1, log-loss, PnL of the signal): <code>flowsense evaluate</code>.
        </p>
      </Panel>
      <Panel title="Accuracy over time (%)" className="col-span-12 h-[320px] lg:col-span-8">
        <LineChart series={series} testid="accuracy-chart" />
      </Panel>
    </div>
  );
}
