"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { login } from "@/lib/api";
import { getFeed } from "@/lib/feed";
import { useSession } from "@/components/session";

export default function LoginPage() {
  const router = useRouter();
  const { user, checked, check, set } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!checked) void check();
    else if (user) router.replace("/"); // embedded demo, or a live session: straight in
  }, [checked, user, check, router]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const u = await login(username, password);
      getFeed().reconnect(); // the socket authenticates with the new token
      set(u);
      router.replace("/");
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="flex min-h-screen items-center justify-center">
      <form onSubmit={submit} className="w-80 space-y-4 rounded-lg border border-edge bg-panel p-6">
        <h1 className="text-lg font-semibold text-sky-400">FlowSense</h1>
        <label className="block">
          <span className="text-xs text-slate-400">Username</span>
          <input
            name="username"
            autoComplete="username"
            className="mt-1 w-full rounded border border-edge bg-black/40 px-2 py-1.5"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label className="block">
          <span className="text-xs text-slate-400">Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            className="mt-1 w-full rounded border border-edge bg-black/40 px-2 py-1.5"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p role="alert" data-testid="login-error" className="text-xs text-red-400">
            {error}
          </p>
        )}
        <button
          type="submit"
          disabled={busy || !username || !password}
          className="w-full rounded bg-sky-600 py-1.5 font-medium text-white disabled:opacity-50"
        >
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
