import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup } from "@testing-library/react";

afterEach(cleanup);
import { LadderView } from "@/components/LadderView";
import { KillSwitchBanner } from "@/components/KillSwitchBanner";
import { PredictionsPanel } from "@/components/PredictionsPanel";
import { useMarket, initialMarket } from "@/lib/store";

describe("LadderView", () => {
  it("renders ten levels a side, asks over bids, with sizes", () => {
    const bids = Array.from({ length: 10 }, (_, i) => [580 - i * 0.01, 100 + i] as [number, number]);
    const asks = Array.from({ length: 10 }, (_, i) => [580.05 + i * 0.01, 200 + i] as [number, number]);
    const { container } = render(<LadderView book={{ ts_event: 0, bids, asks }} />);
    const rows = [...container.querySelectorAll("tbody tr")];
    expect(rows).toHaveLength(20);
    expect(rows.filter((r) => r.getAttribute("data-side") === "ask")).toHaveLength(10);
    // the best ask (580.05) sits right above the best bid (580.00)
    expect(rows[9].textContent).toContain("580.05");
    expect(rows[10].textContent).toContain("580.00");
    expect(rows[0].textContent).toContain("580.14");
    expect(screen.getByText("spread 0.0500")).toBeTruthy();
  });
  it("says it is waiting before the first book", () => {
    render(<LadderView />);
    expect(screen.getByText(/Waiting for the book/)).toBeTruthy();
  });
});

describe("PredictionsPanel", () => {
  it("shows the ensemble with its members and probabilities", () => {
    render(
      <PredictionsPanel
        latest={{
          ts_event: 0, symbol: "AMZN", seq: 5, model: "ensemble", direction: 1, confidence: 0.61,
          p_up: 0.61, p_flat: 0.3, p_down: 0.09,
          hawkes_direction: 0, hawkes_confidence: 0.55, transformer_direction: -1, transformer_confidence: 0.47,
          ofi_direction: 1, ofi_confidence: 0.8,
        }}
        history={[]}
      />,
    );
    expect(screen.getByText("ensemble")).toBeTruthy();
    expect(screen.getByText("Hawkes")).toBeTruthy();
    expect(screen.getByText("Transformer")).toBeTruthy();
    expect(screen.getByText("61.0%")).toBeTruthy();
    expect(screen.getByText("P(flat) 30.0%")).toBeTruthy();
  });
});

describe("KillSwitchBanner", () => {
  it("is absent until the kill switch trips, then loud", () => {
    useMarket.setState(initialMarket());
    const { container, rerender } = render(<KillSwitchBanner />);
    expect(container.textContent).toBe("");
    useMarket.setState({
      killSwitch: { ts_event: 0, symbol: "AMZN", alert_id: "x", severity: "critical", name: "HighDrawdown", message: "halted" },
    });
    rerender(<KillSwitchBanner />);
    expect(screen.getByRole("alert").textContent).toContain("KILL SWITCH");
  });
});
