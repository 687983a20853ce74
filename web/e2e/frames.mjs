// Frame-time measurement of the live symbol view (benchmarks/bench_dashboard.py runs it):
// requestAnimationFrame deltas, long tasks (PerformanceObserver) and the JS heap after a
// forced GC (CDP), in headless Chromium, over SECONDS of a running API; the same rAF
// recorder on a blank page in the same browser first (the baseline). One JSON line.
//   BASE_URL=... SYMBOL=GOOG SECONDS=30 node e2e/frames.mjs
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const SYMBOL = process.env.SYMBOL ?? "GOOG";
const SECONDS = Number(process.env.SECONDS ?? 30);
const HEAP_EVERY_S = Number(process.env.HEAP_EVERY_S ?? 5);
const POINTS = process.env.POINTS ? `&points=${Number(process.env.POINTS)}` : "";

const RECORDER = () => {
  const w = window;
  w.__frames = [];
  w.__long = [];
  let last = performance.now();
  const loop = (t) => {
    w.__frames.push(t - last);
    last = t;
    w.__raf = requestAnimationFrame(loop);
  };
  w.__raf = requestAnimationFrame(loop);
  try {
    new PerformanceObserver((l) => l.getEntries().forEach((e) => w.__long.push(e.duration))).observe({ type: "longtask" });
  } catch {}
  // chart and ladder redraws seen in the DOM
  w.__ladder = 0;
  const ladder = document.querySelector("[data-testid=ladder]");
  if (ladder) new MutationObserver(() => (w.__ladder += 1)).observe(ladder, { attributes: true, attributeFilter: ["data-ts"] });
  const chart = document.querySelector("[data-testid=price-chart]");
  w.__chart0 = Number(chart?.dataset.updates ?? 0);
};

function stats(frames, long, seconds) {
  const f = [...frames].sort((a, b) => a - b);
  const q = (p) => (f.length ? f[Math.min(f.length - 1, Math.floor(p * f.length))] : null);
  const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
  return {
    frames: f.length,
    fps: r(f.length / seconds),
    p50_ms: r(q(0.5)),
    p95_ms: r(q(0.95)),
    p99_ms: r(q(0.99)),
    max_ms: r(f.at(-1) ?? null),
    over_33ms: f.filter((x) => x > 33.4).length,
    long_tasks: long.length,
    long_task_ms: r(long.reduce((a, b) => a + b, 0)),
  };
}

async function record(page, seconds, cdp, heap) {
  await page.evaluate(RECORDER);
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    await page.waitForTimeout(Math.min(HEAP_EVERY_S * 1000, seconds * 1000 - (Date.now() - t0)));
    if (heap) {
      await cdp.send("HeapProfiler.collectGarbage");
      const m = await cdp.send("Runtime.getHeapUsage");
      heap.push(Math.round((m.usedSize / 2 ** 20) * 100) / 100);
    }
  }
  const out = await page.evaluate(() => {
    cancelAnimationFrame(window.__raf);
    const chart = document.querySelector("[data-testid=price-chart]");
    return {
      frames: window.__frames.slice(1),
      long: window.__long,
      ladder: window.__ladder,
      chart: Number(chart?.dataset.updates ?? 0) - window.__chart0,
      points: Number(chart?.dataset.points ?? 0),
    };
  });
  return { ...stats(out.frames, out.long, seconds), ladder_redraws: out.ladder, chart_updates: out.chart, chart_points: out.points };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const cdp = await page.context().newCDPSession(page);
await cdp.send("Runtime.enable");
await page.goto("about:blank");
const baseline = await record(page, Math.min(10, SECONDS), cdp, null);

await page.goto(`${BASE}/symbol/?s=${encodeURIComponent(SYMBOL)}${POINTS}`);
await page.waitForFunction(() => Number(document.querySelector("[data-testid=price-chart]")?.dataset.updates ?? 0) >= 3, null, { timeout: 60000 });
await page.locator("[data-testid=ladder]").waitFor({ timeout: 60000 });
const heap = [];
const live = await record(page, SECONDS, cdp, heap);
const messages = await page.evaluate(() => document.querySelector("[data-testid=conn]")?.textContent ?? "");
await browser.close();
console.log(JSON.stringify({ seconds: SECONDS, baseline, live: { ...live, heap_mb: heap }, conn: messages }));
