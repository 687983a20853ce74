// Browser test of the dashboard against a running API (`flowsense serve`), with
// playwright-core driving Debian's Chromium headless. Prints one JSON line of results;
// exit 0 when every check passed. Screenshots go to $ARTIFACTS (default web/artifacts).
//
//   BASE_URL=http://127.0.0.1:8000 [FS_USER=alice FS_PASSWORD=...] [SYMBOL=GOOG]
//   [EXPECT_KILL=1] [LOGIN_ONLY=1] [CHROMIUM=/usr/bin/chromium] node e2e/dashboard.mjs
//
// Without FS_USER the API must be the embedded demo (no accounts: straight in).
// LOGIN_ONLY=1 (accounts, no running flow): log in, create an API key, log out.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const OUT = process.env.ARTIFACTS ?? path.resolve(import.meta.dirname, "..", "artifacts");
const SYMBOL = process.env.SYMBOL ?? "";
const USER = process.env.FS_USER ?? "";
const PASSWORD = process.env.FS_PASSWORD ?? "";
const EXPECT_KILL = process.env.EXPECT_KILL === "1";
const LOGIN_ONLY = process.env.LOGIN_ONLY === "1";
const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS ?? 60000);
mkdirSync(OUT, { recursive: true });

const results = { base: BASE, checks: {}, errors: [] };
function check(name, ok, detail = "") {
  results.checks[name] = { ok: Boolean(ok), detail };
  if (!ok) throw new Error(`${name} failed: ${detail}`);
}

async function logIn(page, shot) {
  await page.goto(`${BASE}/login/`);
  if (USER) {
    await page.fill("input[name=username]", USER);
    await page.fill("input[name=password]", "wrong-password");
    await page.click("button[type=submit]");
    const refused = await page.locator("[data-testid=login-error]").textContent();
    check("wrong_password_refused", /wrong username or password/i.test(refused ?? ""), refused);
    await page.fill("input[name=password]", PASSWORD);
    await shot("01-login");
    await page.click("button[type=submit]");
  }
  await page.waitForURL(`${BASE}/`);
  const who = await page.locator("[data-testid=user]").textContent();
  check("logged_in", USER ? who.includes(USER) : who.includes("embedded demo"), who);
}

async function accountSteps(page, shot) {
  await page.click("a[href='/settings/']");
  await page.fill("input[placeholder^='key name']", "e2e");
  await page.click("text=Create key");
  const key = (await page.locator("[data-testid=new-key] code").textContent()) ?? "";
  check("api_key_created", key.length >= 20, `${key.length} characters`);
  await page.locator("td", { hasText: /^e2e$/ }).first().waitFor();
  await shot("05-settings-keys");
  await page.click("text=Log out");
  await page.waitForURL(`${BASE}/login/`);
  check("logged_out", true);
}

async function liveSteps(page, shot) {
  // Markets: symbols with live prices.
  const firstRow = page.locator("[data-testid^=row-]").first();
  await firstRow.waitFor();
  const symbol = SYMBOL || (await firstRow.getAttribute("data-testid")).slice(4);
  await page.waitForFunction(
    (s) => /\d/.test(document.querySelector(`[data-testid=mid-${s}]`)?.textContent ?? ""),
    symbol,
  );
  await shot("02-markets");

  // Open the symbol: the chart and the ladder update from live data.
  await page.click(`[data-testid=row-${symbol}] a`);
  await page.waitForURL(/\/symbol\/\?s=/);
  const chart = page.locator("[data-testid=price-chart]");
  const updates = () => Number(document.querySelector("[data-testid=price-chart]")?.dataset.updates ?? 0);
  await page.waitForFunction(updates);
  const u0 = Number(await chart.getAttribute("data-updates"));
  await page.waitForFunction(
    (u) => Number(document.querySelector("[data-testid=price-chart]").dataset.updates) >= u + 5,
    u0,
  );
  const points = Number(await chart.getAttribute("data-points"));
  check("chart_updates_live", points > 0, `${points} points; live updates ${u0} -> ${u0 + 5}+`);
  check("chart_drawn", (await page.locator("[data-testid=price-chart] canvas").count()) > 0);

  const ladder = page.locator("[data-testid=ladder]");
  await ladder.waitFor();
  const ts0 = await ladder.getAttribute("data-ts");
  await page.waitForFunction((t) => document.querySelector("[data-testid=ladder]")?.dataset.ts !== t, ts0);
  const bids = await page.locator("[data-testid=ladder] tr[data-side=bid]").count();
  const asks = await page.locator("[data-testid=ladder] tr[data-side=ask]").count();
  check("ladder_updates_live", bids >= 1 && asks >= 1 && bids <= 10 && asks <= 10, `${bids} bid, ${asks} ask levels`);
  results.symbol = symbol;
  results.ladder_levels = { bids, asks };

  // A prediction arrives, then a newer one.
  const pred = page.locator("[data-testid=prediction]");
  await pred.waitFor();
  const seq0 = await pred.getAttribute("data-seq");
  await page.waitForFunction((s) => document.querySelector("[data-testid=prediction]")?.dataset.seq !== s, seq0);
  check("prediction_arrives", true, `seq ${seq0} -> ${await pred.getAttribute("data-seq")}`);
  await shot("03-symbol-live");

  // The kill switch, shown loudly once the replay's drawdown trips it.
  if (EXPECT_KILL) {
    const banner = page.locator("[data-testid=kill-switch]");
    await banner.waitFor({ timeout: Math.max(TIMEOUT, 120000) });
    const text = await banner.textContent();
    check("kill_switch_shown", /KILL SWITCH/.test(text) && /HighDrawdown/.test(text), text.slice(0, 200));
    await shot("04-kill-switch");
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
page.on("pageerror", (e) => results.errors.push(String(e)));
page.setDefaultTimeout(TIMEOUT);
const shot = (name) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
try {
  await logIn(page, shot);
  await (LOGIN_ONLY ? accountSteps(page, shot) : liveSteps(page, shot));
  check("no_page_errors", results.errors.length === 0, results.errors.join("; "));
  results.ok = true;
} catch (e) {
  results.ok = false;
  results.failure = String(e?.message ?? e).slice(0, 1000);
  await shot("failure").catch(() => undefined);
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
process.exit(results.ok ? 0 : 1);
