import { describe, expect, it } from "vitest";
import { toHistograms } from "@/components/FlowChart";

describe("toHistograms", () => {
  it("orders bars oldest first, one per chart second, OFI signed and coloured", () => {
    const s = 1_340_285_400; // 2012-06-21 13:30:00 UTC
    const h = toHistograms([
      { ts_event: (s + 20) * 1e9, ofi: -300, volume: 1200 },
      { ts_event: (s + 10) * 1e9, ofi: 500, volume: null, n_events: 42 },
      { ts_event: (s + 10) * 1e9 + 5, ofi: 1, volume: 1 }, // same second: dropped
    ]);
    expect(h.ofi.map((b) => [b.time, b.value, b.color])).toEqual([
      [s + 10, 500, "#16a34a"],
      [s + 20, -300, "#dc2626"],
    ]);
    // volume, or the event count where the store has none
    expect(h.volume.map((b) => b.value)).toEqual([42, 1200]);
  });
});
