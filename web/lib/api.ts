/** REST client of the FlowSense API (same origin: the FastAPI app serves this export).
 *
 * Tokens live in localStorage. On `flowsense serve --embedded` there are no accounts:
 * every caller is the local demo trader, so `whoami()` succeeds without a token and the
 * dashboard goes straight in. */

export interface User {
  user_id: number;
  username: string;
  tier: string;
  role: string;
}

const ACCESS = "fs.access";
const REFRESH = "fs.refresh";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function accessToken(): string | null {
  return typeof window === "undefined" ? null : localStorage.getItem(ACCESS);
}

function saveTokens(t: { access_token: string; refresh_token: string }): void {
  localStorage.setItem(ACCESS, t.access_token);
  localStorage.setItem(REFRESH, t.refresh_token);
}

export function clearTokens(): void {
  localStorage.removeItem(ACCESS);
  localStorage.removeItem(REFRESH);
}

async function detail(r: Response): Promise<string> {
  try {
    const body = await r.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
  } catch {
    return r.statusText;
  }
}

async function refresh(): Promise<boolean> {
  const token = localStorage.getItem(REFRESH);
  if (!token) return false;
  const r = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: token }),
  });
  if (!r.ok) {
    clearTokens();
    return false;
  }
  saveTokens(await r.json());
  return true;
}

/** A JSON request under /api/v1 with the access token; one refresh on 401. */
export async function api<T>(path: string, init: RequestInit = {}, retried = false): Promise<T> {
  const headers = new Headers(init.headers);
  const token = accessToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  const r = await fetch(`/api/v1${path}`, { ...init, headers });
  if (r.status === 401 && !retried && (await refresh())) return api<T>(path, init, true);
  if (!r.ok) throw new ApiError(r.status, await detail(r));
  return (r.status === 204 ? undefined : await r.json()) as T;
}

export async function login(username: string, password: string): Promise<User> {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new ApiError(r.status, await detail(r));
  saveTokens(await r.json());
  return whoami() as Promise<User>;
}

export async function logout(): Promise<void> {
  const token = localStorage.getItem(REFRESH);
  clearTokens();
  if (token)
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    }).catch(() => undefined);
}

/** Who the API says we are, or null (not logged in). */
export async function whoami(): Promise<User | null> {
  try {
    return await api<User>("/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Whether the API runs embedded (no accounts): its health lists the `embedded` store. */
export async function isEmbedded(): Promise<boolean> {
  const r = await fetch("/api/v1/health");
  const body = await r.json().catch(() => ({}));
  return body.mode === "embedded";
}

export async function metricsText(): Promise<string> {
  const r = await fetch("/metrics");
  return r.ok ? r.text() : "";
}
