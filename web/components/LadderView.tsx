"use client";
/** Depth ladder (up to 10 levels a side), redrawn at most every ~100 ms (the store's
 * coalescer), asks over bids, with size bars and cumulative depth. */
import { memo } from "react";
import { fmtPrice, fmtSize, fmtTime } from "@/lib/format";
import { buildLadder } from "@/lib/ladder";
import type { Book } from "@/lib/types";

export const LadderView = memo(function LadderView({ book, depth = 10 }: { book?: Book; depth?: number }) {
  if (!book) return <p className="p-3 text-slate-500">Waiting for the book…</p>;
  const { rows, spread, imbalance } = buildLadder(book.bids, book.asks, depth);
  return (
    <div data-testid="ladder" data-ts={book.ts_event} className="num text-xs">
      <table className="w-full">
        <thead className="text-slate-500">
          <tr>
            <th className="px-2 py-1 text-right">Bid size</th>
            <th className="px-2 text-center">Price</th>
            <th className="px-2 text-left">Ask size</th>
            <th className="px-2 text-right">Cum.</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const ask = r.side === "ask";
            const bestBoundary = ask && rows[i + 1]?.side === "bid";
            return (
              <tr
                key={`${r.side}${r.price}`}
                data-side={r.side}
                className={bestBoundary ? "border-b border-slate-500" : ""}
              >
                <td className="relative px-2 py-0.5 text-right text-emerald-400">
                  {!ask && (
                    <span
                      className="absolute inset-y-0 right-0 bg-emerald-500/20"
                      style={{ width: `${(r.weight * 100).toFixed(1)}%` }}
                    />
                  )}
                  <span className="relative">{ask ? "" : fmtSize(r.size)}</span>
                </td>
                <td className={`px-2 text-center font-semibold ${ask ? "text-red-300" : "text-emerald-300"}`}>
                  {fmtPrice(r.price)}
                </td>
                <td className="relative px-2 text-left text-red-400">
                  {ask && (
                    <span
                      className="absolute inset-y-0 left-0 bg-red-500/20"
                      style={{ width: `${(r.weight * 100).toFixed(1)}%` }}
                    />
                  )}
                  <span className="relative">{ask ? fmtSize(r.size) : ""}</span>
                </td>
                <td className="px-2 text-right text-slate-500">{fmtSize(r.cumulative)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="flex justify-between border-t border-edge px-2 py-1 text-slate-400">
        <span>spread {fmtPrice(spread)}</span>
        <span>imbalance {imbalance === null ? "—" : imbalance.toFixed(2)}</span>
        <span>{fmtTime(book.ts_event)}</span>
      </div>
    </div>
  );
});
