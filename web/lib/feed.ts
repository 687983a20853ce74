/** The Socket.IO connection and the per-animation-frame flush of what it receives. */
import { io, type Socket } from "socket.io-client";
import { accessToken } from "./api";
import { Inbox, reduce, useMarket, type Batch } from "./store";

type FrameListener = (batch: Batch) => void;
const KINDS = ["ticks", "features", "predictions", "orders", "alerts"] as const;

export class Feed {
  private socket: Socket | null = null;
  private inbox = new Inbox();
  private rooms = new Map<string, number>();
  private listeners = new Set<FrameListener>();
  private scheduled = false;

  private connect(): Socket {
    if (this.socket) return this.socket;
    const s = io({
      path: "/socket.io",
      transports: ["websocket"],
      auth: (cb) => cb({ token: accessToken() ?? undefined }),
    });
    s.on("connect", () => {
      useMarket.setState({ connected: true });
      if (this.rooms.size) s.emit("subscribe", [...this.rooms.keys()]);
    });
    s.on("disconnect", () => useMarket.setState({ connected: false }));
    for (const kind of KINDS)
      s.on(kind, (msg: { room: string; data: unknown }) => {
        this.inbox.push(kind, msg.room, msg.data);
        this.schedule();
      });
    this.socket = s;
    return s;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(this.flush);
  }

  /** One store update and one call per chart listener per animation frame. */
  private flush = (now: number): void => {
    this.scheduled = false;
    const { batch, messages } = this.inbox.take(now);
    useMarket.setState((s) => reduce(s, batch, messages));
    for (const l of this.listeners) l(batch);
    if (this.inbox.pending) this.schedule(); // books held back by the 100 ms coalescer
  };

  /** Join rooms (reference counted); returns the leave function. */
  subscribe(rooms: string[]): () => void {
    const s = this.connect();
    const fresh = rooms.filter((r) => !this.rooms.has(r));
    for (const r of rooms) this.rooms.set(r, (this.rooms.get(r) ?? 0) + 1);
    if (fresh.length && s.connected) s.emit("subscribe", fresh);
    return () => {
      const gone: string[] = [];
      for (const r of rooms) {
        const n = (this.rooms.get(r) ?? 1) - 1;
        if (n <= 0) {
          this.rooms.delete(r);
          gone.push(r);
        } else this.rooms.set(r, n);
      }
      if (gone.length && s.connected) s.emit("unsubscribe", gone);
    };
  }

  onFrame(l: FrameListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  reconnect(): void {
    this.socket?.disconnect();
    this.socket = null;
    if (this.rooms.size) this.connect();
  }
}

let feed: Feed | null = null;
export function getFeed(): Feed {
  feed ??= new Feed();
  return feed;
}
