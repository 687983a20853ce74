/** The live market state (zustand) and the pure reducer that folds one frame's batch of
 * Socket.IO messages into it. Messages are collected in an `Inbox` between frames and
 * applied once per animation frame (lib/feed.ts): one store update, one render, however
 * many messages arrived. Every list is bounded, so memory does not grow. */
import { create } from "zustand";
import { Coalescer } from "./coalesce";
import type { AlertRow, Book, FeatureRow, OrderRow, Prediction, Tick } from "./types";
import { isKillSwitch } from "./types";

export const MAX_ORDERS = 200;
export const MAX_ALERTS = 100;
export const MAX_PRED_HISTORY = 60;
export const LADDER_MS = 100;

export interface Batch {
  ticks: Map<string, Tick>;
  features: Map<string, FeatureRow>;
  predictions: Map<string, Prediction>;
  books: Map<string, Book>;
  orders: OrderRow[];
  alerts: AlertRow[];
}

export interface MarketState {
  connected: boolean;
  ticks: Record<string, Tick>;
  predictions: Record<string, Prediction>;
  predHistory: Record<string, Prediction[]>;
  books: Record<string, Book>;
  orders: OrderRow[];
  alerts: AlertRow[];
  killSwitch: AlertRow | null;
  messages: number;
  frames: number;
}

export const initialMarket = (): MarketState => ({
  connected: false,
  ticks: {},
  predictions: {},
  predHistory: {},
  books: {},
  orders: [],
  alerts: [],
  killSwitch: null,
  messages: 0,
  frames: 0,
});

export const useMarket = create<MarketState>(() => initialMarket());

/** Newest first, at most `max` (the batch's rows arrive oldest first). */
function prependBounded<T>(current: T[], rows: T[], max: number): T[] {
  if (!rows.length) return current;
  return [...rows.slice(-max).reverse(), ...current].slice(0, max);
}

/** The state after one frame's batch (pure: the store and the tests use it). */
export function reduce(s: MarketState, b: Batch, messages = 0): Partial<MarketState> {
  const out: Partial<MarketState> = { frames: s.frames + 1, messages: s.messages + messages };
  if (b.ticks.size) out.ticks = { ...s.ticks, ...Object.fromEntries(b.ticks) };
  if (b.books.size) out.books = { ...s.books, ...Object.fromEntries(b.books) };
  if (b.predictions.size) {
    out.predictions = { ...s.predictions, ...Object.fromEntries(b.predictions) };
    const hist = { ...s.predHistory };
    for (const [sym, p] of b.predictions) hist[sym] = prependBounded(hist[sym] ?? [], [p], MAX_PRED_HISTORY);
    out.predHistory = hist;
  }
  if (b.orders.length) out.orders = prependBounded(s.orders, b.orders, MAX_ORDERS);
  if (b.alerts.length) {
    out.alerts = prependBounded(s.alerts, b.alerts, MAX_ALERTS);
    out.killSwitch = killState(s.killSwitch, b.alerts);
  }
  return out;
}

/** The halt in force after these alerts (oldest first): a kill-switch alert sets it, an
 * operator's `RiskReset` lifts it. */
export function killState(current: AlertRow | null, alerts: AlertRow[]): AlertRow | null {
  let kill = current;
  for (const a of alerts) {
    if (isKillSwitch(a)) kill = a;
    else if (a.name === "RiskReset") kill = null;
  }
  return kill;
}

/** Alerts sent before this page joined the room (`GET /alerts`, newest first). */
export function seedAlerts(s: MarketState, newestFirst: AlertRow[]): Partial<MarketState> {
  const known = new Set(s.alerts.map((a) => a.alert_id));
  const fresh = newestFirst.filter((a) => !known.has(a.alert_id));
  if (!fresh.length) return {};
  const alerts = [...s.alerts, ...fresh]
    .sort((a, b) => b.ts_event - a.ts_event)
    .slice(0, MAX_ALERTS);
  return { alerts, killSwitch: killState(null, [...alerts].reverse()) };
}

/** Messages received since the last frame: per-symbol rooms keep their newest row,
 * books are coalesced to one per symbol per `LADDER_MS`, lists are appended (bounded). */
export class Inbox {
  private batch: Batch = Inbox.empty();
  private books = new Coalescer<Book>(LADDER_MS);
  count = 0;

  static empty(): Batch {
    return {
      ticks: new Map(),
      features: new Map(),
      predictions: new Map(),
      books: new Map(),
      orders: [],
      alerts: [],
    };
  }

  push(kind: string, room: string, data: unknown): void {
    this.count += 1;
    const symbol = room.slice(room.indexOf(".") + 1);
    switch (kind) {
      case "ticks": {
        const t = data as Tick;
        this.batch.ticks.set(symbol, t);
        if (t.bids || t.asks) this.books.offer(symbol, { ts_event: t.ts_event, bids: t.bids ?? [], asks: t.asks ?? [] });
        else if (t.bid_px != null && t.ask_px != null)
          // No depth published (servers): a one-level ladder from the touch.
          this.books.offer(symbol, {
            ts_event: t.ts_event,
            bids: [[t.bid_px, t.bid_sz ?? 0]],
            asks: [[t.ask_px, t.ask_sz ?? 0]],
          });
        break;
      }
      case "features":
        this.batch.features.set(symbol, data as FeatureRow);
        break;
      case "predictions":
        this.batch.predictions.set(symbol, data as Prediction);
        break;
      case "orders":
        this.batch.orders.push(...(Array.isArray(data) ? (data as OrderRow[]) : []));
        if (this.batch.orders.length > MAX_ORDERS) this.batch.orders.splice(0, this.batch.orders.length - MAX_ORDERS);
        break;
      case "alerts":
        this.batch.alerts.push(...(Array.isArray(data) ? (data as AlertRow[]) : []));
        if (this.batch.alerts.length > MAX_ALERTS) this.batch.alerts.splice(0, this.batch.alerts.length - MAX_ALERTS);
        break;
    }
  }

  /** Whether something is waiting (books held back by the coalescer included). */
  get pending(): boolean {
    const b = this.batch;
    return (
      this.books.size > 0 ||
      b.ticks.size + b.features.size + b.predictions.size + b.orders.length + b.alerts.length > 0
    );
  }

  /** What the frame at `now` (ms) shows; the inbox starts over. */
  take(now: number): { batch: Batch; messages: number } {
    const batch = this.batch;
    batch.books = this.books.take(now);
    this.batch = Inbox.empty();
    const messages = this.count;
    this.count = 0;
    return { batch, messages };
  }
}
