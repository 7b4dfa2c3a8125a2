// Function URL CORS from a real browser: Debian's Chromium, headless, driven by
// playwright-core. Each case opens a page on its origin and fetch()es a URL from it.
// argv[2]: {"cases": [{"name", "page", "url", "init"}]}; init is fetch's RequestInit
// (JSON-able). Prints one JSON line: {name: {ok, status, body, headers} | {ok: false,
// error, message}}, headers being what the page's JavaScript can read.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const arg = JSON.parse(process.argv[2]);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "lamina-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.LAMINA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 60_000,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-proxy-server",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const results = {};
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20_000);
  for (const c of arg.cases) {
    await page.goto(c.page, { timeout: 20_000 });
    results[c.name] = await page.evaluate(async ({ url, init }) => {
      try {
        const r = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
        return { ok: true, status: r.status, headers: Object.fromEntries(r.headers.entries()), body: await r.text() };
      } catch (e) {
        return { ok: false, error: e.name, message: e.message };
      }
    }, { url: c.url, init: c.init || {} });
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
