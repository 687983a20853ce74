import { describe, expect, it } from "vitest";
import { Inbox, MAX_ALERTS, MAX_ORDERS, initialMarket, killState, reduce, seedAlerts } from "@/lib/store";
import type { MarketState } from "@/lib/store";
import type { AlertRow } from "@/lib/types";

const tick = (seq: number, mid: number) => ({
  ts_event: 1_340_285_400_000_000_000 + seq * 1_000_000,
  symbol: "AMZN",
  seq,
  bid_px: mid - 0.05,
  bid_sz: 100,
  ask_px: mid + 0.05,
  ask_sz: 200,
  mid,
  bids: [[mid - 0.05, 100]],
  asks: [[mid + 0.05, 200]],
});

const alert = (id: string, ts: number, name = "HighDrawdown", severity = "critical"): AlertRow => ({
  ts_event: ts,
  symbol: "AMZN",
  alert_id: id,
  severity,
  name,
  message: name,
});

function apply(s: MarketState, inbox: Inbox, now: number): MarketState {
  const { batch, messages } = inbox.take(now);
  return { ...s, ...reduce(s, batch, messages) };
}

describe("Inbox + reduce: one state update per frame", () => {
  it("folds a burst of ticks into the newest, and counts every message", () => {
    const inbox = new Inbox();
    for (let i = 0; i < 500; i++) inbox.push("ticks", "ticks.AMZN", tick(i, 224 + i / 100));
    inbox.push("ticks", "ticks.GOOG", { ...tick(7, 580), symbol: "GOOG" });
    const s = apply(initialMarket(), inbox, 0);
    expect(s.frames).toBe(1);
    expect(s.messages).toBe(501);
    expect(s.ticks.AMZN.seq).toBe(499);
    expect(s.ticks.AMZN.mid).toBeCloseTo(228.99, 10);
    expect(s.ticks.GOOG.mid).toBe(580);
    expect(inbox.pending).toBe(false);
  });

  it("coalesces the ladder to one book per symbol per 100 ms", () => {
    const inbox = new Inbox();
    let s = initialMarket();
    inbox.push("ticks", "ticks.AMZN", tick(1, 224));
    s = apply(s, inbox, 1000);
    expect(s.books.AMZN.bids[0][0]).toBeCloseTo(223.95, 10);
    // 16 ms later (next frame): a new book is held back, the price is not
    inbox.push("ticks", "ticks.AMZN", tick(2, 225));
    s = apply(s, inbox, 1016);
    expect(s.ticks.AMZN.mid).toBe(225);
    expect(s.books.AMZN.bids[0][0]).toBeCloseTo(223.95, 10);
    expect(inbox.pending).toBe(true); // the feed schedules another frame
    inbox.push("ticks", "ticks.AMZN", tick(3, 226));
    s = apply(s, inbox, 1050);
    expect(s.books.AMZN.ts_event).toBe(tick(1, 0).ts_event);
    s = apply(s, inbox, 1100); // 100 ms after the last shown book: the newest one
    expect(s.books.AMZN.bids[0][0]).toBeCloseTo(225.95, 10);
    expect(inbox.pending).toBe(false);
  });

  it("builds a one-level ladder from the touch when no depth is published", () => {
    const inbox = new Inbox();
    const { bids: _b, asks: _a, ...touch } = tick(1, 100);
    inbox.push("ticks", "ticks.X", touch);
    const s = apply(initialMarket(), inbox, 0);
    expect(s.books.X.bids).toEqual([[99.95, 100]]);
    expect(s.books.X.asks).toEqual([[100.05, 200]]);
  });

  it("keeps orders and alerts newest first and bounded however many arrive", () => {
    const inbox = new Inbox();
    let s = initialMarket();
    for (let frame = 0; frame < 20; frame++) {
      const rows = Array.from({ length: 100 }, (_, i) => ({ type: "orders", ts_event: frame * 100 + i, symbol: "AMZN" }));
      inbox.push("orders", "orders", rows);
      inbox.push("alerts", "alerts", [alert(`a${frame}`, frame, "Info", "info")]);
      s = apply(s, inbox, frame * 16);
    }
    expect(s.orders).toHaveLength(MAX_ORDERS);
    expect(s.orders[0].ts_event).toBe(1999);
    expect(s.orders[MAX_ORDERS - 1].ts_event).toBe(1800);
    expect(s.alerts.length).toBeLessThanOrEqual(MAX_ALERTS);
    expect(s.alerts[0].alert_id).toBe("a19");
    expect(s.killSwitch).toBeNull();
  });

  it("keeps the prediction history bounded, newest first", () => {
    const inbox = new Inbox();
    let s = initialMarket();
    for (let i = 0; i < 200; i++) {
      inbox.push("predictions", "predictions.AMZN", { ts_event: i, symbol: "AMZN", seq: i, model: "ofi", direction: 1, confidence: 0.5 });
      s = apply(s, inbox, i * 16);
    }
    expect(s.predictions.AMZN.seq).toBe(199);
    expect(s.predHistory.AMZN.length).toBe(60);
    expect(s.predHistory.AMZN[0].seq).toBe(199);
  });
});

describe("kill switch", () => {
  it("is set by a HighDrawdown alert and lifted by a later RiskReset", () => {
    const kill = alert("k1", 10);
    expect(killState(null, [alert("i", 5, "Info", "info"), kill])).toBe(kill);
    expect(killState(kill, [alert("r", 20, "RiskReset", "warning")])).toBeNull();
    const inbox = new Inbox();
    inbox.push("alerts", "alerts", [kill]);
    const s = apply(initialMarket(), inbox, 0);
    expect(s.killSwitch?.alert_id).toBe("k1");
  });

  it("is found among the alerts sent before the page joined the room", () => {
    const older = [alert("k2", 30), alert("w", 20, "Something", "warning")]; // newest first
    const seeded = { ...initialMarket(), ...seedAlerts(initialMarket(), older) };
    expect(seeded.killSwitch?.alert_id).toBe("k2");
    expect(seeded.alerts.map((a) => a.alert_id)).toEqual(["k2", "w"]);
    expect(seedAlerts(seeded, older)).toEqual({}); // nothing new
  });
});
