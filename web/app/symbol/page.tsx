"use client";
/** The live view of one symbol (`/symbol/?s=AMZN`: a query, so the static export needs
 * no page per symbol). */
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { fmtPrice, fmtTime } from "@/lib/format";
import { useMarket } from "@/lib/store";
import { AlertsPanel, OrdersPanel } from "@/components/ActivityPanel";
import { FlowChart } from "@/components/FlowChart";
import { LadderView } from "@/components/LadderView";
import { Panel } from "@/components/Panel";
import { PositionsPanel } from "@/components/PositionsPanel";
import { PredictionsPanel } from "@/components/PredictionsPanel";
import { PriceChart } from "@/components/PriceChart";
import { useRooms } from "@/components/useRooms";

function SymbolView({ symbol, maxPoints }: { symbol: string; maxPoints?: number }) {
  useRooms([`ticks.${symbol}`, `features.${symbol}`, `predictions.${symbol}`]);
  const tick = useMarket((s) => s.ticks[symbol]);
  const book = useMarket((s) => s.books[symbol]);
  const latest = useMarket((s) => s.predictions[symbol]);
  const history = useMarket((s) => s.predHistory[symbol]) ?? [];
  return (
    <div className="grid grid-cols-12 gap-3">
      <div className="col-span-12 flex items-baseline gap-6 px-1">
        <h1 className="text-xl font-bold">{symbol}</h1>
        <span className="num text-lg" data-testid="mid">{fmtPrice(tick?.mid)}</span>
        <span className="num text-emerald-400">bid {fmtPrice(tick?.bid_px)}</span>
        <span className="num text-red-400">ask {fmtPrice(tick?.ask_px)}</span>
        <span className="num text-xs text-slate-500">{fmtTime(tick?.ts_event)} UTC</span>
      </div>
      <div className="col-span-12 flex flex-col gap-3 xl:col-span-9">
        <Panel title="Price · mid, micro-price, trades" className="h-[380px]">
          <PriceChart symbol={symbol} maxPoints={maxPoints} />
        </Panel>
        <Panel title="Order-flow imbalance · volume (per bar)" className="h-[180px]">
          <FlowChart symbol={symbol} />
        </Panel>
      </div>
      <div className="col-span-12 xl:col-span-3">
        <Panel title="Order book · depth 10" testid="book-panel">
          <LadderView book={book} />
        </Panel>
      </div>
      <Panel title="Predictions" className="col-span-12 md:col-span-4" testid="predictions-panel">
        <PredictionsPanel latest={latest} history={history} />
      </Panel>
      <Panel title="Positions · PnL" className="col-span-12 md:col-span-3">
        <PositionsPanel highlight={symbol} />
      </Panel>
      <Panel title="Alerts" className="col-span-12 md:col-span-5" testid="alerts-panel">
        <AlertsPanel />
      </Panel>
      <Panel title="Orders and fills" className="col-span-12">
        <OrdersPanel symbol={symbol} />
      </Panel>
    </div>
  );
}

function FromQuery() {
  const q = useSearchParams();
  const s = q.get("s");
  // `points`: chart history kept (default 3 000; the benchmark lowers it to show the bound)
  const points = Number(q.get("points"));
  const maxPoints = Number.isFinite(points) && points >= 100 ? Math.min(points, 20_000) : undefined;
  if (!s) return <p className="p-3 text-slate-500">No symbol: open one from Markets.</p>;
  return <SymbolView symbol={s} maxPoints={maxPoints} />;
}

export default function SymbolPage() {
  return (
    <Suspense fallback={null}>
      <FromQuery />
    </Suspense>
  );
}
