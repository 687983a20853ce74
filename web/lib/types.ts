/** Rows the API sends (Socket.IO rooms and REST); see serving/fanout.py. */
import type { Level } from "./ladder";

export interface Tick {
  ts_event: number;
  symbol: string;
  seq: number;
  bid_px: number | null;
  bid_sz: number | null;
  ask_px: number | null;
  ask_sz: number | null;
  mid: number | null;
  /** the book to 10 levels where the flow publishes it (embedded) */
  bids?: Level[];
  asks?: Level[];
}

export interface FeatureRow extends Tick {
  microprice: number | null;
  weighted_mid?: number | null;
  spread?: number | null;
  ofi: number | null;
  trade_sz: number | null;
  bid_depth?: number | null;
  ask_depth?: number | null;
}

export interface Prediction {
  ts_event: number;
  symbol: string;
  seq: number;
  model: string;
  direction: number;
  confidence: number;
  mid?: number | null;
  p_down?: number | null;
  p_flat?: number | null;
  p_up?: number | null;
  [member: string]: unknown;
}

export interface OrderRow {
  type: "orders" | "fills";
  ts_event: number;
  symbol: string;
  client_order_id?: string;
  side?: number;
  quantity?: number;
  status?: string;
  rule?: string;
  price?: number;
  position_after?: number;
  [k: string]: unknown;
}

export interface AlertRow {
  ts_event: number;
  symbol: string;
  alert_id: string;
  severity: string;
  name: string;
  message: string;
}

export interface Book {
  ts_event: number;
  bids: Level[];
  asks: Level[];
}

/** Kill switch: the account step's CRITICAL drawdown alert (operators/account.py). */
export function isKillSwitch(a: AlertRow): boolean {
  return a.name === "HighDrawdown" || (a.severity ?? "").toLowerCase() === "critical";
}
