"use client";
/** Settings: your API keys (create: shown once; list; revoke). */
import { useCallback, useEffect, useState } from "react";
import { api } from "@/lib/api";
import { Panel } from "@/components/Panel";
import { useSession } from "@/components/session";

interface Key {
  id: number;
  prefix?: string;
  name: string;
  created_at?: string;
  revoked_at?: string | null;
  [k: string]: unknown;
}

export default function SettingsPage() {
  const { user, embedded } = useSession();
  const [keys, setKeys] = useState<Key[]>([]);
  const [name, setName] = useState("");
  const [fresh, setFresh] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setKeys(await api<Key[]>("/keys"));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  async function create(e: React.FormEvent) {
    e.preventDefault();
    try {
      const k = await api<{ key: string }>("/keys", { method: "POST", body: JSON.stringify({ name }) });
      setFresh(k.key);
      setName("");
      await load();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  return (
    <div className="grid grid-cols-12 gap-3">
      <Panel title="Account" className="col-span-12 lg:col-span-4">
        <dl className="grid grid-cols-2 gap-1 p-3 text-xs">
          <dt className="text-slate-500">User</dt>
          <dd>{user?.username}</dd>
          <dt className="text-slate-500">Role</dt>
          <dd>{user?.role}</dd>
          <dt className="text-slate-500">Tier</dt>
          <dd>{user?.tier}</dd>
        </dl>
      </Panel>
      <Panel title="API keys" className="col-span-12 lg:col-span-8">
        <div className="space-y-3 p-3 text-xs">
          {embedded && (
            <p className="text-amber-300">
              The embedded demo has no accounts: API keys need <code>flowsense serve</code> on the servers.
            </p>
          )}
          <form onSubmit={create} className="flex gap-2">
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="key name (e.g. bot)"
              className="w-56 rounded border border-edge bg-black/40 px-2 py-1"
            />
            <button className="rounded bg-sky-600 px-3 py-1 text-white" type="submit">
              Create key
            </button>
          </form>
          {fresh && (
            <p data-testid="new-key" className="rounded border border-emerald-700 bg-emerald-950 p-2">
              New key (shown once, copy it now): <code className="select-all">{fresh}</code>
            </p>
          )}
          {error && !embedded && <p className="text-red-400">{error}</p>}
          <table className="num w-full text-left">
            <thead className="text-slate-500">
              <tr>
                <th>Prefix</th>
                <th>Name</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} className="border-t border-edge">
                  <td className="py-1">{k.prefix ?? k.id}</td>
                  <td>{k.name}</td>
                  <td>{k.created_at?.slice(0, 19).replace("T", " ")}</td>
                  <td className="text-right">
                    {k.revoked_at ? (
                      <span className="text-slate-500">revoked</span>
                    ) : (
                    <button
                      className="text-red-400 hover:underline"
                      onClick={async () => {
                        await api(`/keys/${k.id}`, { method: "DELETE" }).catch((e) => setError(String(e)));
                        await load();
                      }}
                    >
                      revoke
                    </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </div>
  );
}
