/** Coalesce bursts per key: only the newest value of a key is kept, and a key is
 * released at most once per `intervalMs` (the order-book ladder: ~100 ms). */
export class Coalescer<T> {
  private pending = new Map<string, T>();
  private lastOut = new Map<string, number>();

  constructor(readonly intervalMs: number) {}

  offer(key: string, value: T): void {
    this.pending.set(key, value);
  }

  get size(): number {
    return this.pending.size;
  }

  /** The newest value of every key whose interval has passed at `now` (ms). */
  take(now: number): Map<string, T> {
    const out = new Map<string, T>();
    for (const [key, value] of this.pending) {
      const last = this.lastOut.get(key);
      if (last === undefined || now - last >= this.intervalMs) {
        out.set(key, value);
        this.lastOut.set(key, now);
      }
    }
    for (const key of out.keys()) this.pending.delete(key);
    return out;
  }
}
