// The dashboard's page, script and style, embedded in the binary (no
// external assets, no build step). The script builds every element with
// textContent / createTextNode: names and log lines are user data.

#include "lamina/api/ui_api.hpp"

namespace lamina::api {

namespace {

constexpr std::string_view kHtml = R"LAMINA_UI(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lamina dashboard</title>
<link rel="stylesheet" href="/_lamina/ui/app.css">
</head>
<body>
<header>
  <h1>lamina</h1>
  <label>Account / region <select id="scope"></select></label>
  <span id="status" class="muted">connecting…</span>
</header>
<main>
  <section class="cards">
    <div class="card"><div class="label">Concurrency in use</div>
      <div class="value"><span id="conc-in-use">–</span> / <span id="conc-limit">–</span></div>
      <div class="meter"><div id="conc-bar"></div></div>
      <div class="sub" id="conc-sub"></div></div>
    <div class="card"><div class="label">Invocations <span class="window"></span></div>
      <div class="value" id="tot-invocations">–</div></div>
    <div class="card"><div class="label">Errors <span class="window"></span></div>
      <div class="value" id="tot-errors">–</div></div>
    <div class="card"><div class="label">Throttles <span class="window"></span></div>
      <div class="value" id="tot-throttles">–</div></div>
    <div class="card"><div class="label">Async events waiting</div>
      <div class="value" id="queue-waiting">–</div><div class="sub" id="queue-sub"></div></div>
  </section>
  <section>
    <h2>Per minute <span class="legend"><i class="k-inv"></i>invocations <i class="k-err"></i>errors
      <i class="k-thr"></i>throttles</span></h2>
    <div id="minutes" class="chart"></div>
  </section>
  <section>
    <h2>Functions</h2>
    <table id="functions"><thead><tr><th>Function</th><th>Runtime</th><th>Versions</th>
      <th>Aliases (routing)</th><th>Layers</th><th>Reserved</th><th>Provisioned</th>
      <th>Running</th><th>Invocations / errors / throttles</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent invocations <span id="recent-filter"></span></h2>
    <table id="recent"><thead><tr><th>Ended</th><th>Request id</th><th>Function</th>
      <th>Version</th><th>Duration</th><th>Status</th><th>Start</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <section>
    <h2>Async event queue</h2>
    <table id="events"><thead><tr><th>Request id</th><th>Function</th><th>Received</th>
      <th>Next try</th><th>Attempts</th><th>Throttled</th><th>Payload</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <section class="two">
    <div><h2>Event source mappings</h2>
      <table id="esms"><thead><tr><th>Function</th><th>Source</th><th>Batch</th><th>State</th>
        </tr></thead><tbody></tbody></table></div>
    <div><h2>Function URLs</h2>
      <table id="urls"><thead><tr><th>Function</th><th>URL</th><th>Auth</th><th>Mode</th></tr>
        </thead><tbody></tbody></table></div>
  </section>
</main>
<script src="/_lamina/ui/app.js"></script>
</body>
</html>
)LAMINA_UI";

constexpr std::string_view kCss = R"LAMINA_UI(
:root { --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7383; --line: #dde1e7; --card: #fff;
  --accent: #2f6fde; --err: #c73a3a; --thr: #d98b19; --ok: #2e8b57; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  background: var(--bg); color: var(--fg); }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1.2em;
  background: #1d2330; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
header .muted { color: #aeb6c4; }
main { padding: 1em 1.2em; max-width: 1600px; }
h2 { font-size: 1em; margin: 1.2em 0 .4em; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: .8em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .7em; }
.card .label, .sub, .muted, .window { color: var(--muted); font-size: .85em; }
.card .value { font-size: 1.6em; font-weight: 600; }
.meter { height: 6px; background: var(--line); border-radius: 3px; margin: .3em 0; }
.meter div { height: 6px; background: var(--accent); border-radius: 3px; width: 0; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: .35em .5em; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; font-size: .85em; color: var(--muted); background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.invocation { cursor: pointer; }
tr.invocation:hover, tr.selected { background: #eef3fc; }
.mono, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85em; }
pre.log { margin: 0; padding: .5em; background: #11151d; color: #dfe5ee; white-space: pre-wrap;
  word-break: break-all; max-height: 24em; overflow: auto; }
.s-Success { color: var(--ok); } .s-Error { color: var(--err); } .s-Throttled { color: var(--thr); }
.tag { display: inline-block; padding: 0 .4em; margin: 0 .2em .2em 0; border-radius: 3px;
  background: #eef0f4; font-size: .85em; }
.empty { color: var(--muted); font-style: italic; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.chart { display: flex; align-items: flex-end; gap: 3px; height: 70px; background: var(--card);
  border: 1px solid var(--line); padding: 4px; }
.chart .col { flex: 1; display: flex; flex-direction: column-reverse; height: 100%; }
.chart .col div { width: 100%; }
.k-inv, .chart .inv { background: #9db8ea; } .k-err, .chart .err { background: var(--err); }
.k-thr, .chart .thr { background: var(--thr); }
.legend { font-weight: normal; color: var(--muted); font-size: .85em; margin-left: 1em; }
.legend i { display: inline-block; width: .8em; height: .8em; margin: 0 .3em 0 .8em; }
a { color: var(--accent); }
button.clear { margin-left: .6em; font-size: .85em; }
)LAMINA_UI";

constexpr std::string_view kJs = R"LAMINA_UI("use strict";
// lamina's dashboard: polls /_lamina/ui/state every second and redraws.
// Every value reaches the page as text (append of strings / textContent).
const $ = (id) => document.getElementById(id);
const view = { account: "", region: "", fn: "", open: new Set(), timer: null, gen: 0 };

function el(tag, cls, ...kids) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const k of kids) e.append(k instanceof Node ? k : String(k ?? ""));
  return e;
}
const fmtTime = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "–");
const num = (v) => (v === null || v === undefined ? "–" : String(Math.round(v * 100) / 100));

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  view.fn = h.get("fn") || "";
  view.account = h.get("account") || view.account;
  view.region = h.get("region") || view.region;
}
function hashFor(fn) {
  const h = new URLSearchParams();
  if (view.account) h.set("account", view.account);
  if (view.region) h.set("region", view.region);
  if (fn) h.set("fn", fn);
  return "#" + h.toString();
}

function fill(tbody, rows, cols, emptyText) {
  const body = tbody.tagName === "TBODY" ? tbody : tbody.querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const td = el("td", "empty", emptyText);
    td.colSpan = cols;
    body.append(el("tr", "", td));
  }
  for (const r of rows) body.append(r);
}
function row(cls, ...cells) {
  const tr = el("tr", cls);
  for (const c of cells) tr.append(c instanceof HTMLTableCellElement ? c : el("td", "", c));
  return tr;
}
const td = (cls, ...kids) => el("td", cls, ...kids);

function drawScopes(s) {
  const sel = $("scope");
  const want = s.scope.account + "/" + s.scope.region;
  const opts = s.scopes.map((x) => x.account + "/" + x.region);
  const have = [...sel.options].map((o) => o.value);
  if (opts.join() !== have.join()) {
    sel.replaceChildren(...opts.map((o) => { const e = el("option", "", o); e.value = o; return e; }));
  }
  sel.value = want;
}

function drawCards(s) {
  const c = s.concurrency;
  $("conc-in-use").textContent = num(c.in_use);
  $("conc-limit").textContent = num(c.account_limit);
  $("conc-bar").style.width = c.account_limit ? Math.min(100, (100 * c.in_use) / c.account_limit) + "%" : "0";
  $("conc-sub").textContent = "unreserved " + num(c.unreserved_in_use) + " / " + num(c.unreserved_limit) +
    ", reserved " + num(c.reserved_total);
  for (const w of document.querySelectorAll(".window")) w.textContent = "(" + s.window_minutes + " min)";
  $("tot-invocations").textContent = num(s.totals.invocations);
  $("tot-errors").textContent = num(s.totals.errors);
  $("tot-throttles").textContent = num(s.totals.throttles);
  const q = s.event_queue;
  $("queue-waiting").textContent = num(q.waiting);
  $("queue-sub").textContent = "retrying " + num(q.retrying) + ", received " + num(q.received) +
    ", dropped " + num(q.dropped);
}

function drawChart(s) {
  const chart = $("minutes");
  const top = Math.max(1, ...s.minutes.map((m) => m.invocations + m.throttles));
  chart.replaceChildren(...s.minutes.map((m) => {
    const col = el("div", "col");
    col.title = fmtTime(m.t) + ": " + m.invocations + " invocations, " + m.errors + " errors, " +
      m.throttles + " throttles, max concurrency " + m.max_concurrency;
    for (const [cls, v] of [["err", m.errors], ["inv", m.invocations - m.errors], ["thr", m.throttles]]) {
      const bar = el("div", cls);
      bar.style.height = (100 * Math.max(0, v)) / top + "%";
      col.append(bar);
    }
    return col;
  }));
}

function drawFunctions(s) {
  fill($("functions"), s.functions.map((f) => {
    const link = el("a", "fn-link", f.name);
    link.href = hashFor(f.name);
    link.dataset.fn = f.name;
    const versions = td("", ...f.versions.map((v) => el("span", "tag", v.version)));
    const aliases = td("", ...f.aliases.map((a) => {
      let text = a.name + " → " + a.version;
      for (const [v, w] of Object.entries(a.weights)) text += " (" + v + ": " + Math.round(w * 100) + "%)";
      return el("span", "tag", text);
    }));
    const layers = td("mono", ...f.layers.map((l) => el("div", "", l.split(":").slice(-2).join(":"))));
    const prov = td("", ...f.provisioned.map((p) => el("div", "",
      p.qualifier + ": " + num(p.allocated) + "/" + p.requested + " " + (p.status || "") +
      (p.reason ? " (" + p.reason + ")" : ""))));
    const tr = row("function", td("", link), f.runtime, versions, aliases, layers,
      td("num", f.reserved_concurrency ?? "–"), prov, td("num running", num(f.concurrency)),
      td("num", num(f.invocations) + " / " + num(f.errors) + " / " + num(f.throttles)));
    tr.dataset.function = f.name;
    return tr;
  }), 9, "no functions in this account and region");
}

function drawRecent(s) {
  const filter = $("recent-filter");
  filter.replaceChildren();
  if (view.fn) {
    const clear = el("button", "clear", "show all");
    clear.addEventListener("click", () => { location.hash = hashFor(""); });
    filter.append(el("span", "muted", "of " + view.fn), clear);
  }
  const rows = [];
  for (const r of s.recent.invocations) {
    const tr = row("invocation" + (view.open.has(r.request_id) ? " selected" : ""),
      fmtTime(r.at_ms), td("mono", r.request_id), r.function,
      r.version + (r.qualifier && r.qualifier !== r.version ? " (" + r.qualifier + ")" : ""),
      td("num", r.status === "Throttled" ? "–" : num(r.duration_ms) + " ms"),
      td("s-" + r.status, r.status + (r.error_type ? " " + r.error_type : "")),
      r.status === "Throttled" ? "–" : r.cold ? "init" : "warm");
    tr.dataset.requestId = r.request_id;
    tr.addEventListener("click", () => {
      if (view.open.has(r.request_id)) view.open.delete(r.request_id); else view.open.add(r.request_id);
      draw(last);
    });
    rows.push(tr);
    if (view.open.has(r.request_id)) {
      const cell = td("", el("pre", "log", r.log || "(no log lines)"));
      cell.colSpan = 7;
      rows.push(el("tr", "log-row", cell));
    }
  }
  fill($("recent"), rows, 7, "no invocations yet");
}

function drawQueue(s) {
  fill($("events"), s.event_queue.events.map((e) => row("event", td("mono", e.id),
    e.function + (e.qualifier ? ":" + e.qualifier : ""), fmtTime(e.received_ms), fmtTime(e.next_ms),
    td("num", e.attempts), td("num", e.throttles), td("num", e.payload_bytes + " B"))),
    7, "no events waiting");
}

function drawSources(s) {
  fill($("esms"), s.event_source_mappings.map((m) => row("esm",
    m.function + (m.qualifier ? ":" + m.qualifier : ""), td("mono", m.source), td("num", m.batch_size),
    m.state)), 4, "none");
  fill($("urls"), s.function_urls.map((u) => {
    const safe = /^https?:\/\//.test(u.url);
    const link = safe ? el("a", "", u.url) : el("span", "", u.url);
    if (safe) link.href = u.url;
    return row("url", u.function + (u.qualifier ? ":" + u.qualifier : ""), td("mono", link),
      u.auth_type, u.invoke_mode);
  }), 4, "none");
}

let last = null;
function draw(s) {
  if (!s) return;
  drawScopes(s);
  drawCards(s);
  drawChart(s);
  drawFunctions(s);
  drawRecent(s);
  drawQueue(s);
  drawSources(s);
}

async function poll() {
  clearTimeout(view.timer);
  const gen = ++view.gen;  // a newer poll (hash change) supersedes this one
  const q = new URLSearchParams();
  if (view.account) q.set("account", view.account);
  if (view.region) q.set("region", view.region);
  if (view.fn) q.set("function", view.fn);
  try {
    const r = await fetch("/_lamina/ui/state?" + q.toString(), { cache: "no-store" });
    const s = await r.json();
    if (gen !== view.gen) return;
    if (!r.ok) throw new Error(s.message || r.status);
    last = s;
    view.account = s.scope.account;
    view.region = s.scope.region;
    draw(s);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (gen !== view.gen) return;
    $("status").textContent = "lamina not reachable: " + e.message;
  }
  view.timer = setTimeout(poll, 1000);
}

$("scope").addEventListener("change", (ev) => {
  const [account, region] = ev.target.value.split("/");
  view.account = account;
  view.region = region;
  view.fn = "";
  location.hash = hashFor("");
});
window.addEventListener("hashchange", () => { readHash(); poll(); });
readHash();
poll();
)LAMINA_UI";

}  // namespace

std::string_view ui_page_html() { return kHtml; }
std::string_view ui_page_js() { return kJs; }
std::string_view ui_page_css() { return kCss; }

}  // namespace lamina::api
