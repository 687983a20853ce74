export function Direction({ d }: { d: number | null | undefined }) {
  if (d === null || d === undefined) return <span className="text-slate-500">—</span>;
  if (d > 0) return <span className="text-emerald-400">▲</span>;
  if (d < 0) return <span className="text-red-400">▼</span>;
  return <span className="text-slate-400">■</span>;
}
