/** A fixed-capacity ring buffer: the oldest items fall off, so memory stays bounded
 * however long the session runs. */
export class Ring<T> {
  private items: (T | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error("Ring capacity must be >= 1");
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    const end = (this.start + this.size) % this.capacity;
    this.items[end] = item;
    if (this.size < this.capacity) this.size += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The newest item, or undefined when empty. */
  last(): T | undefined {
    return this.size ? this.items[(this.start + this.size - 1) % this.capacity] : undefined;
  }

  /** Replace the newest item (same chart time bucket). */
  setLast(item: T): void {
    if (!this.size) this.push(item);
    else this.items[(this.start + this.size - 1) % this.capacity] = item;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.items[(this.start + i) % this.capacity] as T;
    return out;
  }

  clear(): void {
    this.items = new Array(this.capacity);
    this.start = 0;
    this.size = 0;
  }
}
