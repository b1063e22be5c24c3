/* Dockyard web UI: dialogs, menus, copy buttons and live updates. No framework, no build. */
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
// Workload statuses, and a deployment's (derived from its workload's).
const INACTIVE = new Set(["stopped", "errored", "terminated", "inactive"]);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (response.status === 204) return { status: 204, body: null };
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, body };
}

/* Poll `fn` every `ms` while the tab is visible; stop when it returns false. */
function every(ms, fn) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { if ((await fn()) === false) { stopped = true; return; } } catch (_) { /* try again */ }
    }
    setTimeout(tick, ms);
  };
  tick();
}

/* --- dialogs, toggles, menus, confirmations, copy ------------------------------------- */

document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.open);
    opener.closest("details.menu")?.removeAttribute("open");
    if (dialog) dialog.showModal();
    return;
  }
  const closer = event.target.closest("[data-close]");
  if (closer) { closer.closest("dialog")?.close(); return; }
  const toggle = event.target.closest("[data-toggle]");
  if (toggle) {
    const target = document.getElementById(toggle.dataset.toggle);
    if (target) { target.hidden = !target.hidden; $("input, textarea, select", target)?.focus(); }
    return;
  }
  const copy = event.target.closest("[data-copy-target]");
  if (copy) { copyText(copy, document.getElementById(copy.dataset.copyTarget)?.innerText || ""); return; }
  const lang = event.target.closest("[data-lang-show]");
  if (lang) {
    $$("[data-lang-show]").forEach((b) => b.setAttribute("aria-selected", String(b === lang)));
    $$("[data-lang]").forEach((panel) => { panel.hidden = panel.dataset.lang !== lang.dataset.langShow; });
  }
  // A click outside an open menu closes it.
  $$("details.menu[open], details.filter-menu[open]").forEach((menu) => {
    if (!menu.contains(event.target) && menu.classList.contains("menu")) menu.removeAttribute("open");
  });
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

async function copyText(button, text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // Plain-HTTP pages on other hosts have no clipboard API: fall back to a selection copy.
    const area = el("textarea", { style: "position:fixed;opacity:0" }, text);
    document.body.append(area); area.select(); document.execCommand("copy"); area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
}

/* --- live status badges (workload lists) ---------------------------------------------- */

function setStatus(id, status) {
  $$(`[data-status-of="${id}"]`).forEach((badge) => {
    if (badge.textContent === status) return;
    badge.textContent = status;
    badge.className = `badge status-${status}`;
  });
  $$(`[data-when-active-of="${id}"]`).forEach((node) => { node.hidden = INACTIVE.has(status); });
  $$(`[data-when-inactive-of="${id}"]`).forEach((node) => { node.hidden = !INACTIVE.has(status); });
}

$$("[data-poll-statuses]").forEach((root) => {
  every(2000, async () => {
    const { status, body } = await getJSON(root.dataset.pollStatuses);
    if (status === 401) return false;
    (body?.data || []).forEach((w) => setStatus(w.id, w.status));
  });
});

/* --- workload detail: status, replicas, events, logs, stats --------------------------- */

const page = $("[data-workload-page]");
if (page) {
  const id = page.dataset.workloadPage;
  let proton = page.dataset.proton;
  every(2000, async () => {
    const { status, body } = await getJSON(`/ui/api/workloads/${id}`);
    if (status === 401 || status === 404) return false;
    setStatus(id, body.status);
    if (body.protonId) proton = body.protonId;
    const replicas = $("[data-replicas]");
    if (replicas && proton) await refreshReplicas(id, proton, replicas);
  });
}

async function refreshReplicas(id, proton, tbody) {
  const { status, body } = await getJSON(`/ui/api/workloads/${id}/protons/${proton}/statusDetails`);
  if (status !== 200 || !body) return;
  $("[data-replica-summary]").textContent = body.overallStatus?.summary || "";
  const rows = (body.replicas || []).map((r) => {
    const met = (type) => (r.conditions || []).find((c) => c.type === type)?.met ? "yes" : "no";
    const restarts = r.containers?.[0]?.restartCount ?? 0;
    return el("tr", {}, el("td", {}, r.name), el("td", {}, r.status), el("td", {}, el("code", {}, r.address || "—")),
      el("td", {}, met("Started")), el("td", {}, met("Ready")), el("td", {}, restarts), el("td", {}, r.message || ""));
  });
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No replicas."))]));
}

const events = $("[data-events]");
if (events) {
  every(3000, async () => {
    const { status, body } = await getJSON(events.dataset.events);
    if (status !== 200) return status !== 401;
    const rows = (body.data || []).map((e) => el("tr", {}, el("td", { class: "nowrap" }, when(e.timestamp)),
      el("td", {}, e.eventType), el("td", { class: "small" }, el("code", {}, JSON.stringify(e.details || {})))));
    $("[data-event-rows]").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "3", class: "empty" }, "No events."))]));
  });
}

const logs = $("[data-logs]");
if (logs) {
  const out = $("[data-log-lines]");
  const state = $("[data-logs-state]");
  every(3000, async () => {
    const { status, body } = await getJSON(logs.dataset.logs);
    if (status === 404 && body?.code === "not_found") {
      state.textContent = "";
      out.textContent = "This server does not serve workload logs yet; the events above show what happened.";
      return false;
    }
    if (status !== 200) { state.textContent = body?.message || `HTTP ${status}`; return status !== 401; }
    const lines = (body.data || []).slice().reverse()
      .map((e) => `${e.timestamp}  ${e.replica || ""}  ${(e.level || "").padEnd(7)} ${e.message}`);
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    out.textContent = lines.length ? lines.join("\n") : "No output yet.";
    if (atBottom) out.scrollTop = out.scrollHeight;
    state.textContent = `live · ${lines.length} lines`;
  });
}

/* --- the workload list's summary tiles -------------------------------------------------- */

const summary = $("[data-summary]");
if (summary) {
  const trend = (value) => `${value >= 0 ? "+" : ""}${(100 * (value || 0)).toFixed(0)}% vs the 24 h before`;
  const show = (key, value, note) => {
    $(`[data-summary-value="${key}"]`).textContent = value;
    $(`[data-summary-note="${key}"]`).textContent = note;
  };
  every(10000, async () => {
    const { status, body } = await getJSON(summary.dataset.summary);
    if (status !== 200) return status !== 401 && status !== 404;
    const r = body.requests || {};
    show("requests", r.total ?? 0, `${r.succeeded ?? 0} succeeded · ${r.failed ?? 0} failed · ${trend(r.trend)}`);
    show("errorRate", `${(100 * (body.errorRate?.rate || 0)).toFixed(1)}%`, trend(body.errorRate?.trend));
    show("responseTime", `${Math.round(body.responseTime?.millis || 0)} ms`, trend(body.responseTime?.trend));
    $$("[data-summary-tile]").forEach((tile) => { tile.hidden = false; });
  });
}

/* --- stats: tiles and small hand-drawn SVG charts -------------------------------------- */

const stats = $("[data-stats]");
if (stats) {
  const state = $("[data-stats-state]");
  every(10000, async () => {
    const { status, body } = await getJSON(stats.dataset.stats);
    if (status === 404 && (body?.message === "No such route." || body?.code === "not_found")) {
      state.textContent = "Request statistics are not available on this server yet.";
      return false;
    }
    if (status !== 200) { state.textContent = body?.message || `HTTP ${status}`; return status !== 401; }
    const m = body.metrics || {};
    const errors = (m.serverErrors || 0) + (m.userErrors || 0);
    $('[data-metric="totalRequests"]').textContent = m.totalRequests ?? 0;
    $('[data-metric="errors"]').textContent = errors;
    $('[data-metric="totalErrorRate"]').textContent = `${((m.totalErrorRate || 0) * 100).toFixed(1)}%`;
    $('[data-metric="responseTime"]').textContent = `${Math.round(m.responseTime || 0)} ms`;
    $("[data-stats-tiles]").hidden = false;
    state.textContent = body.period ? `Since ${when(body.period.start)}` : "";
    const start = new Date(Date.now() - 60 * 60 * 1000).toISOString();
    for (const figure of $$("[data-chart]")) {
      const metric = figure.dataset.chart;
      const series = await getJSON(`${stats.dataset.stats}/${metric}?resolution=PT1M&startTime=${encodeURIComponent(start)}`);
      if (series.status === 200) drawChart($("svg", figure), points(series.body));
    }
  });
}

function points(body) {
  return (body?.buckets || []).map((b, i) => {
    const time = Date.parse(b.start || b.timestamp || b.time || b.period?.start || "") || i;
    let value = b.value;
    if (typeof value !== "number") value = Object.values(b).find((v) => typeof v === "number") ?? 0;
    return [time, value];
  });
}

function drawChart(svg, data) {
  const W = 320, H = 120, P = 18;
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const k in attrs) n.setAttribute(k, attrs[k]); return n; };
  svg.replaceChildren(make("line", { x1: P, y1: H - P, x2: W - 4, y2: H - P, class: "axis" }));
  if (!data.length) { const t = make("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }); t.textContent = "No requests yet"; svg.append(t); return; }
  const xs = data.map((p) => p[0]), ys = data.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), top = Math.max(...ys, 1e-9);
  const x = (v) => P + ((v - x0) / ((x1 - x0) || 1)) * (W - P - 6);
  const y = (v) => H - P - (v / top) * (H - 2 * P);
  const line = data.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  svg.append(make("path", { d: `${line} L${x(x1).toFixed(1)},${H - P} L${x(x0).toFixed(1)},${H - P} Z`, class: "area" }));
  svg.append(make("path", { d: line, class: "line" }));
  const label = make("text", { x: P, y: 12 }); label.textContent = `max ${+top.toFixed(3)}`; svg.append(label);
}

$$("dialog[data-open-on-load]").forEach((dialog) => dialog.showModal());
