import { describe, expect, it } from "vitest";
import { Coalescer } from "@/lib/coalesce";
import { drawdowns, maxDrawdown } from "@/lib/equity";
import { dirLabel, fmtPct, fmtPnl, fmtPrice, fmtSize, fmtTime } from "@/lib/format";
import { buildLadder } from "@/lib/ladder";
import { byLabel, parseProm } from "@/lib/prom";
import { Ring } from "@/lib/ring";

describe("Ring", () => {
  it("keeps the newest `capacity` items, oldest first", () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 10; i++) r.push(i);
    expect(r.length).toBe(3);
    expect(r.toArray()).toEqual([8, 9, 10]);
    expect(r.last()).toBe(10);
    r.setLast(42);
    expect(r.toArray()).toEqual([8, 9, 42]);
  });
  it("never holds more than its capacity over a long run", () => {
    const r = new Ring<number>(1000);
    for (let i = 0; i < 100_000; i++) r.push(i);
    expect(r.length).toBe(1000);
    expect(r.toArray()[0]).toBe(99_000);
  });
});

describe("Coalescer", () => {
  it("releases only the newest value of a burst, at most once per interval per key", () => {
    const c = new Coalescer<number>(100);
    for (let i = 0; i < 50; i++) c.offer("AMZN", i); // a burst of 50 books
    c.offer("GOOG", 7);
    expect(Object.fromEntries(c.take(1000))).toEqual({ AMZN: 49, GOOG: 7 });
    c.offer("AMZN", 50);
    expect(c.take(1050).size).toBe(0); // 50 ms later: held back
    c.offer("AMZN", 51);
    expect(c.take(1099).size).toBe(0);
    expect(Object.fromEntries(c.take(1100))).toEqual({ AMZN: 51 }); // 100 ms: the newest
    expect(c.size).toBe(0);
  });
});

describe("format", () => {
  it("formats event time as UTC with milliseconds", () => {
    // 2012-06-21 13:30:00.123456789 UTC (LOBSTER's open, 9:30 New York)
    const ns = Date.UTC(2012, 5, 21, 13, 30, 0, 123) * 1e6 + 456789;
    expect(fmtTime(ns)).toBe("13:30:00.123");
    expect(fmtTime(null)).toBe("—");
  });
  it("formats prices, sizes, PnL and percentages", () => {
    expect(fmtPrice(224.2)).toBe("224.20");
    expect(fmtPrice(1.23456)).toBe("1.2346");
    expect(fmtPrice(61234.5)).toBe("61,234.50");
    expect(fmtPrice(Number.NaN)).toBe("—");
    expect(fmtSize(1200)).toBe("1,200");
    expect(fmtSize(0.00123)).toBe("0.0012");
    expect(fmtPnl(1234.5)).toBe("+1,234.50");
    expect(fmtPnl(-12)).toBe("-12.00");
    expect(fmtPnl(0)).toBe("0.00");
    expect(fmtPct(0.0712)).toBe("7.1%");
    expect(dirLabel(-1)).toBe("down");
    expect(dirLabel(0)).toBe("flat");
  });
});

describe("buildLadder", () => {
  it("puts asks over bids, best prices at the middle, with cumulative depth", () => {
    const l = buildLadder(
      [
        [99.9, 300],
        [100.0, 100],
        [99.8, 0], // an empty level: left out
      ],
      [
        [100.2, 50],
        [100.1, 200],
      ],
    );
    expect(l.rows.map((r) => [r.side, r.price, r.size, r.cumulative])).toEqual([
      ["ask", 100.2, 50, 250],
      ["ask", 100.1, 200, 200],
      ["bid", 100.0, 100, 100],
      ["bid", 99.9, 300, 400],
    ]);
    expect(l.spread).toBeCloseTo(0.1, 10);
    // (400 - 250) / 650
    expect(l.imbalance).toBeCloseTo(150 / 650, 12);
    expect(l.rows.find((r) => r.size === 300)!.weight).toBe(1);
    expect(l.rows.find((r) => r.size === 50)!.weight).toBeCloseTo(50 / 300, 12);
  });
  it("shows at most `depth` levels a side and copes with a one-sided book", () => {
    const bids = Array.from({ length: 15 }, (_, i) => [100 - i, 1] as [number, number]);
    const l = buildLadder(bids, [], 10);
    expect(l.rows).toHaveLength(10);
    expect(l.rows[0].price).toBe(100);
    expect(l.spread).toBeNull();
  });
});

describe("parseProm", () => {
  it("reads samples with labels and skips comments", () => {
    const text = [
      "# HELP flowsense_trade_pnl_dollars Mark-to-market PnL by symbol",
      "# TYPE flowsense_trade_pnl_dollars gauge",
      'flowsense_trade_pnl_dollars{symbol="AMZN"} -138.44',
      'flowsense_trade_pnl_dollars{symbol="GOOG"} 21.5',
      "flowsense_drawdown_dollars 159.53",
      'flowsense_model_accuracy_percent{model="ensemble"} 52.25',
    ].join("\n");
    const s = parseProm(text);
    expect(byLabel(s, "flowsense_trade_pnl_dollars", "symbol")).toEqual({ AMZN: -138.44, GOOG: 21.5 });
    expect(byLabel(s, "flowsense_drawdown_dollars", "")).toEqual({ "": 159.53 });
    expect(byLabel(s, "flowsense_model_accuracy_percent", "model").ensemble).toBe(52.25);
  });
});

describe("drawdowns", () => {
  it("is equity over the running peak minus one", () => {
    const curve: [number, number][] = [
      [1, 100],
      [2, 110],
      [3, 99],
      [4, 120],
      [5, 90],
    ];
    const dd = drawdowns(curve).map(([, d]) => d);
    expect(dd[0]).toBe(0);
    expect(dd[1]).toBe(0);
    expect(dd[2]).toBeCloseTo(99 / 110 - 1, 12);
    expect(dd[4]).toBeCloseTo(-0.25, 12);
    expect(maxDrawdown(curve)).toBeCloseTo(-0.25, 12);
  });
});
