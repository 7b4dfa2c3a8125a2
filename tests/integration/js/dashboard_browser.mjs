// The dashboard (/_lamina/ui) in a real browser: Debian's Chromium, headless, driven
// by playwright-core, in step with the Python test through files in arg.dir:
// this script writes "ready", "seen-function" and "seen-concurrency" as it gets
// there; the test creates the function after "ready" and starts slow invocations
// after "seen-function". Screenshots go to arg.dir.
// argv[2]: {"url", "dir", "function", "marker", "running"}. Prints one JSON line:
// {running, inUse, log, logHasElements, shots: [paths]}.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const arg = JSON.parse(process.argv[2]);
const mark = (name) => fs.writeFileSync(path.join(arg.dir, name), "1");
const shots = [];
async function shot(page, name) {
  const file = path.join(arg.dir, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "lamina-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.LAMINA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 60_000,
  viewport: { width: 1440, height: 900 },
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-proxy-server",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const result = { shots };
const errors = [];
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(30_000);
  await page.goto(arg.url + "/_lamina/ui", { timeout: 20_000 });
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("updated"));
  await shot(page, "01-loaded");
  mark("ready");

  const row = page.locator(`#functions tr[data-function="${arg.function}"]`);
  await row.waitFor();
  await shot(page, "02-function");
  mark("seen-function");

  // the running count of the function rises while the test's slow invocations run
  await page.waitForFunction(({ fn, n }) => {
    const cell = document.querySelector(`#functions tr[data-function="${fn}"] td.running`);
    return cell && Number(cell.textContent) >= n;
  }, { fn: arg.function, n: arg.running }, { timeout: 40_000 });
  result.running = Number(await row.locator("td.running").textContent());
  result.inUse = Number(await page.locator("#conc-in-use").textContent());
  await shot(page, "03-concurrency");
  mark("seen-concurrency");

  // follow the function's link to its recent invocations, open one, read its log
  await row.locator("a.fn-link").click();
  await page.waitForFunction((fn) => location.hash.includes("fn=" + encodeURIComponent(fn)), arg.function);
  const inv = page.locator(`#recent tr.invocation`).first();
  await inv.waitFor({ timeout: 40_000 });
  await inv.click();
  const log = page.locator("#recent pre.log", { hasText: arg.marker }).first();
  await log.waitFor({ timeout: 40_000 });
  result.log = await log.textContent();
  result.logHasElements = await log.evaluate((e) => e.children.length > 0);
  result.otherFunctions = await page.locator("#recent tr.invocation").evaluateAll(
    (rows, fn) => rows.filter((r) => r.children[2].textContent !== fn).length, arg.function);
  await shot(page, "04-log");
} catch (e) {
  result.error = String(e);
  try { await shot(context.pages()[0], "99-failure"); } catch {}
} finally {
  result.pageErrors = errors;
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
