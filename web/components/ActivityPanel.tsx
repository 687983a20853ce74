"use client";
/** Alerts (the kill switch first and loud) and recent orders and fills. */
import { fmtPrice, fmtSize, fmtTime } from "@/lib/format";
import { useMarket } from "@/lib/store";
import { isKillSwitch } from "@/lib/types";

export function AlertsPanel() {
  const alerts = useMarket((s) => s.alerts);
  if (!alerts.length) return <p className="p-3 text-xs text-slate-500">No alerts.</p>;
  return (
    <ul data-testid="alerts" className="max-h-64 divide-y divide-edge overflow-auto text-xs">
      {alerts.map((a) => (
        <li
          key={a.alert_id}
          className={`px-3 py-1.5 ${isKillSwitch(a) ? "bg-red-900/60 font-semibold text-red-100" : "text-amber-200"}`}
        >
          <span className="uppercase">{a.severity}</span> · {a.name} · {a.symbol} · {fmtTime(a.ts_event)}
          <div className="font-normal opacity-80">{a.message}</div>
        </li>
      ))}
    </ul>
  );
}

export function OrdersPanel({ symbol }: { symbol?: string }) {
  const orders = useMarket((s) => s.orders);
  const rows = (symbol ? orders.filter((o) => o.symbol === symbol) : orders).slice(0, 50);
  if (!rows.length) return <p className="p-3 text-xs text-slate-500">No orders yet.</p>;
  return (
    <table data-testid="orders" className="num w-full text-right text-xs">
      <thead className="text-slate-500">
        <tr>
          <th className="px-2 text-left">Time</th>
          <th className="text-left">Kind</th>
          <th>Side</th>
          <th>Qty</th>
          <th>Price</th>
          <th className="px-2 text-left">Status</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((o, i) => (
          <tr key={`${o.client_order_id}-${o.type}-${i}`} className="border-t border-edge">
            <td className="px-2 text-left text-slate-400">{fmtTime(o.ts_event)}</td>
            <td className="text-left">{o.type === "fills" ? "fill" : "order"}</td>
            <td className={(o.side ?? 0) > 0 ? "text-emerald-400" : "text-red-400"}>
              {(o.side ?? 0) > 0 ? "buy" : "sell"}
            </td>
            <td>{fmtSize(o.quantity)}</td>
            <td>{fmtPrice(o.price ?? null)}</td>
            <td className={`px-2 text-left ${o.status === "denied" ? "text-amber-400" : "text-slate-300"}`}>
              {o.type === "fills" ? "filled" : o.status}
              {o.rule ? ` (${o.rule})` : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
