"use client";
/** The newest prediction of a symbol: the model's direction, confidence and class
 * probabilities, and, for the ensemble, each member (OFI, Hawkes, transformer). */
import { dirLabel, fmtPct, fmtTime } from "@/lib/format";
import type { Prediction } from "@/lib/types";
import { Direction } from "./Direction";

const MEMBERS = [
  ["hawkes", "Hawkes"],
  ["transformer", "Transformer"],
  ["ofi", "OFI"],
] as const;

function ConfidenceBar({ p, d }: { p: number | null | undefined; d?: number }) {
  const w = Math.max(0, Math.min(1, p ?? 0)) * 100;
  const color = (d ?? 0) > 0 ? "bg-emerald-500" : (d ?? 0) < 0 ? "bg-red-500" : "bg-slate-500";
  return (
    <div className="h-1.5 w-24 rounded bg-white/10">
      <div className={`h-1.5 rounded ${color}`} style={{ width: `${w}%` }} />
    </div>
  );
}

export function PredictionsPanel({ latest, history }: { latest?: Prediction; history: Prediction[] }) {
  if (!latest) return <p className="p-3 text-slate-500">Waiting for a prediction…</p>;
  const rows: { name: string; d: number; c: number }[] = [
    { name: latest.model, d: latest.direction, c: latest.confidence },
  ];
  for (const [key, name] of MEMBERS) {
    const d = latest[`${key}_direction`];
    const c = latest[`${key}_confidence`];
    if (typeof d === "number" && typeof c === "number") rows.push({ name, d, c });
  }
  return (
    <div data-testid="prediction" data-seq={latest.seq} className="num space-y-2 p-3 text-xs">
      <table className="w-full">
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.name} className={i === 0 ? "text-sm font-semibold" : "text-slate-300"}>
              <td className="py-0.5 capitalize">{r.name}</td>
              <td>
                <Direction d={r.d} /> {dirLabel(r.d)}
              </td>
              <td>
                <ConfidenceBar p={r.c} d={r.d} />
              </td>
              <td className="text-right">{fmtPct(r.c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {latest.p_up != null && (
        <div className="flex gap-3 text-slate-400">
          <span>P(up) {fmtPct(latest.p_up)}</span>
          <span>P(flat) {fmtPct(latest.p_flat)}</span>
          <span>P(down) {fmtPct(latest.p_down)}</span>
        </div>
      )}
      <div className="text-slate-500">at {fmtTime(latest.ts_event)} · seq {latest.seq}</div>
      <div className="flex h-6 items-end gap-px" title="recent predictions (newest right)">
        {[...history].reverse().map((p, i) => (
          <span
            key={i}
            className={p.direction > 0 ? "bg-emerald-500" : p.direction < 0 ? "bg-red-500" : "bg-slate-600"}
            style={{ width: 4, height: `${Math.max(10, p.confidence * 100)}%` }}
          />
        ))}
      </div>
    </div>
  );
}
