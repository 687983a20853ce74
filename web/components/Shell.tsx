"use client";
/** The frame of every page: navigation, connection state, the kill-switch banner, and the
 * login gate (the embedded demo has no accounts and goes straight in). */
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect } from "react";
import { api, logout } from "@/lib/api";
import { getFeed } from "@/lib/feed";
import { seedAlerts, useMarket } from "@/lib/store";
import type { AlertRow } from "@/lib/types";
import { useSession } from "./session";
import { KillSwitchBanner } from "./KillSwitchBanner";

const NAV = [
  ["/", "Markets"],
  ["/backtest/", "Backtest"],
  ["/models/", "Models"],
  ["/settings/", "Settings"],
] as const;

export function Shell({ children }: { children: React.ReactNode }) {
  const path = usePathname();
  const router = useRouter();
  const { user, checked, embedded, check, set } = useSession();
  const connected = useMarket((s) => s.connected);
  const isLogin = path?.startsWith("/login");

  useEffect(() => {
    if (!checked) void check();
  }, [checked, check]);
  useEffect(() => {
    if (checked && !user && !isLogin) router.replace("/login/");
  }, [checked, user, isLogin, router]);
  useEffect(() => {
    // Alerts (the kill switch) and orders are watched on every page.
    if (!user) return;
    const leave = getFeed().subscribe(["alerts", "orders"]);
    api<AlertRow[]>("/alerts?limit=100")
      .then((rows) => useMarket.setState((s) => seedAlerts(s, rows)))
      .catch(() => undefined);
    return leave;
  }, [user]);

  if (isLogin) return <>{children}</>;
  if (!checked || !user)
    return <div className="p-8 text-slate-400" data-testid="loading">Connecting…</div>;
  return (
    <div className="flex min-h-screen flex-col">
      <header className="flex items-center gap-6 border-b border-edge bg-panel px-4 py-2">
        <Link href="/" className="text-base font-semibold tracking-wide text-sky-400">
          FlowSense
        </Link>
        <nav className="flex gap-4">
          {NAV.map(([href, label]) => (
            <Link
              key={href}
              href={href}
              className={path === href ? "text-white" : "text-slate-400 hover:text-slate-200"}
            >
              {label}
            </Link>
          ))}
        </nav>
        <div className="ml-auto flex items-center gap-4 text-xs text-slate-400">
          <span data-testid="conn" className={connected ? "text-emerald-400" : "text-amber-400"}>
            ● {connected ? "live" : "offline"}
          </span>
          <span data-testid="user">
            {user.username} · {user.role}
            {embedded ? " · embedded demo" : ""}
          </span>
          {!embedded && (
            <button
              className="rounded border border-edge px-2 py-0.5 hover:bg-edge"
              onClick={async () => {
                await logout();
                getFeed().reconnect(); // the next socket authenticates as whoever logs in
                set(null);
                router.replace("/login/");
              }}
            >
              Log out
            </button>
          )}
        </div>
      </header>
      <KillSwitchBanner />
      <main className="flex-1 p-3">{children}</main>
    </div>
  );
}
