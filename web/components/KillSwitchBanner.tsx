"use client";
import { fmtTime } from "@/lib/format";
import { useMarket } from "@/lib/store";

/** The drawdown kill switch, shown loudly across every page once it has tripped. */
export function KillSwitchBanner() {
  const kill = useMarket((s) => s.killSwitch);
  if (!kill) return null;
  return (
    <div
      role="alert"
      data-testid="kill-switch"
      className="kill-flash flex items-center gap-4 border-y-2 border-red-400 px-4 py-3 text-white"
    >
      <span className="text-lg font-black tracking-widest">KILL SWITCH — TRADING HALTED</span>
      <span className="text-sm">
        {kill.name} on {kill.symbol} at {fmtTime(kill.ts_event)}: {kill.message}
      </span>
      <span className="ml-auto text-xs opacity-80">
        lift with: flowsense risk reset --operator NAME --reason TEXT
      </span>
    </div>
  );
}
