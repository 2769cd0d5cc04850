// The monitoring page: signs in with an admin API key (kept in sessionStorage), then reads
// /api/v1/admin/{status,jobs,stats,logs} and renders them. Only textContent is used for
// data, never innerHTML: log lines carry whatever clients sent.
"use strict";

const KEY_STORAGE = "ybb-monitor-key";
const LIVE_EVERY_MS = 5000;
const STATS_EVERY_MS = 30000;
const LOG_PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY_STORAGE), timers: [], logOffset: 0, logQuery: {} };

class AuthError extends Error {}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) query.set(name, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { "X-API-Key": state.key, Accept: "application/json" } });
  if (response.status === 401 || response.status === 403) throw new AuthError("This key is not an admin key.");
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

// -- small DOM helpers ----------------------------------------------------------------
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell === null || cell === undefined ? "" : String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function fill(tableId, rows, emptyText) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
  if (!rows.length) {
    const cols = $(tableId).querySelectorAll("thead th").length;
    const td = el("td", emptyText || "none", "muted");
    td.colSpan = cols;
    const tr = document.createElement("tr");
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function when(epochOrIso) {
  if (!epochOrIso) return "";
  const date = typeof epochOrIso === "number" ? new Date(epochOrIso * 1000) : new Date(epochOrIso);
  return date.toLocaleString();
}

// At most three lines (monitor.css), cut with an ellipsis; the whole text in its title.
function clipped(text) {
  const node = el("div", text, "clip");
  node.title = text;
  return node;
}

// The time of day (the tables cover the last hour); the date too in its title.
function timeOfDay(iso) {
  if (!iso) return "";
  const node = el("span", new Date(iso).toLocaleTimeString());
  node.title = when(iso);
  return node;
}

function requestLink(requestId) {
  if (!requestId) return "";
  const button = el("button", requestId.slice(0, 12), "linkish request-link");
  button.type = "button";
  button.title = requestId;
  button.dataset.requestId = requestId;
  button.addEventListener("click", () => guarded(() => showStory(requestId)));
  return button;
}

// -- service status ---------------------------------------------------------------------
function card(title, ok, entries) {
  const node = el("div", null, "card");
  const heading = el("h4", `${title} `);
  heading.appendChild(el("span", ok ? "ok" : "down", `badge ${ok ? "ok" : "bad"}`));
  node.appendChild(heading);
  const dl = document.createElement("dl");
  for (const [name, value] of entries) {
    dl.appendChild(el("dt", name));
    dl.appendChild(el("dd", value));
  }
  node.appendChild(dl);
  return node;
}

function renderStatus(status) {
  $("version").textContent = `version ${status.api.version}`;
  const overall = $("overall");
  overall.textContent = status.status;
  overall.className = `badge ${status.status === "ok" ? "ok" : "bad"}`;
  const s = status.scheduler, disk = status.storage;
  $("status-cards").replaceChildren(
    card("API", status.api.ok, [["version", status.api.version], ["uptime", duration(status.api.uptime_s)],
                                ["answered by pid", status.api.pid]]),
    card("Scheduler", s.ok, s.detail ? [["problem", s.detail]] :
      [["workers", s.workers], ["uptime", duration(s.uptime_s)], ["address", s.address]]),
    card("Storage", disk.ok, disk.detail ? [["problem", disk.detail]] :
      [["disk free", `${bytes(disk.free_bytes)} (${disk.free_percent}%)`], ["size", bytes(disk.size_bytes)],
       ["path", disk.path]]),
  );
  fill("workers", status.workers.map((w) => row([
    w.name, w.status, `${bytes(w.memory_bytes)} / ${bytes(w.memory_limit_bytes)}`, w.tasks_executing, w.nthreads,
    w.cpu_percent === null || w.cpu_percent === undefined ? "" : `${Math.round(w.cpu_percent)}%`,
  ])), "no workers connected");
}

// -- jobs -------------------------------------------------------------------------------
function stateCell(job) { return el("span", job.state, `state-${job.state}`); }

function progressCell(job) {
  const wrap = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = job.progress;
  wrap.append(bar, el("span", ` ${job.progress}%`));
  return wrap;
}

function renderJobs(jobs) {
  const counts = Object.entries(jobs.counts).map(([name, n]) => `${name}: ${n}`).join(" · ");
  $("job-counts").textContent = counts || "no jobs yet";
  fill("jobs-running", jobs.running.map((j) => row([
    el("code", j.id.slice(0, 12)), j.tenant, j.template || "custom", stateCell(j), progressCell(j),
    `${j.rows_done} / ${j.rows_total}`,
  ])), "nothing running");
  fill("jobs-failed", jobs.failures.map((j) => row([
    when(j.finished_at || j.created_at), el("code", j.id.slice(0, 12)), j.tenant,
    `${j.error_code || ""}: ${j.error_message || ""}`, requestLink(j.request_id),
  ])), "no failures");
  fill("jobs-recent", jobs.recent.map((j) => {
    const tr = row([when(j.created_at), el("code", j.id.slice(0, 12)), j.tenant, j.template || "custom", j.format,
                    stateCell(j), j.rows ?? j.rows_done, duration(j.duration_s), requestLink(j.request_id)]);
    tr.dataset.jobId = j.id;
    return tr;
  }), "no jobs yet");
}

// -- charts (canvas) ----------------------------------------------------------------------
function drawChart(canvas, points, series) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width, height = canvas.clientHeight || canvas.height;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const pad = { left: 44, right: 8, top: 10, bottom: 22 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const values = points.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v !== undefined);
  const max = Math.max(1, ...values) * 1.1;
  const x = (i) => pad.left + (points.length > 1 ? (i * plotW) / (points.length - 1) : 0);
  const y = (v) => pad.top + plotH - (v / max) * plotH;

  ctx.strokeStyle = "#d9dee7";
  ctx.fillStyle = "#667085";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let step = 0; step <= 4; step += 1) {
    const v = (max * step) / 4, yy = y(v);
    ctx.beginPath(); ctx.moveTo(pad.left, yy); ctx.lineTo(width - pad.right, yy); ctx.stroke();
    ctx.fillText(v >= 100 ? Math.round(v).toString() : v.toFixed(1), 4, yy + 4);
  }
  for (const i of [0, Math.floor((points.length - 1) / 2), points.length - 1]) {
    if (!points[i]) continue;
    const label = new Date(points[i].minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const labelWidth = ctx.measureText(label).width;
    ctx.fillText(label, Math.max(pad.left, Math.min(x(i) - labelWidth / 2, width - pad.right - labelWidth)), height - 6);
  }
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let drawing = false;
    points.forEach((p, i) => {
      const v = p[s.key];
      if (v === null || v === undefined) { drawing = false; return; }
      if (drawing) ctx.lineTo(x(i), y(v)); else ctx.moveTo(x(i), y(v));
      drawing = true;
    });
    ctx.stroke();
    points.forEach((p, i) => {  // a dot per point, so a lone minute is visible too
      const v = p[s.key];
      if (v !== null && v !== undefined && v > 0) { ctx.beginPath(); ctx.arc(x(i), y(v), 2, 0, 2 * Math.PI); ctx.fill(); }
    });
  }
}

function renderStats(stats) {
  const points = stats.timeline;
  $("perf-note").textContent = `${stats.requests} requests since ${when(stats.since)}`;
  drawChart($("chart-requests"), points, [{ key: "requests", color: "#2f6fde" }, { key: "errors", color: "#c62828" }]);
  drawChart($("chart-latency"), points, [{ key: "p50_ms", color: "#2f6fde" }, { key: "p95_ms", color: "#b26a00" }]);
  drawChart($("chart-rows"), points, [{ key: "rows_per_s", color: "#1a7f37" }]);
  fill("slow-requests", stats.slow_requests.map((r) => row([
    timeOfDay(r.time), clipped(`${r.method} ${r.path}`), r.status, r.duration_ms,
  ])), "no requests");
  fill("error-patterns", stats.error_patterns.map((p) => row([p.pattern, p.count, requestLink(p.request_id)])),
       "no errors");
  fill("endpoint-usage", stats.endpoint_usage.map((u) => row([`${u.method} ${u.route}`, u.count, u.p95_ms, u.errors])),
       "no requests");
}

// -- logs -------------------------------------------------------------------------------
function isoFromLocal(value) { return value ? new Date(value).toISOString() : ""; }

function logRow(line) {
  return row([when(line.time), el("span", line.level, `level-${line.level}`), line.process,
              requestLink(line.request_id), line.tenant || "", el("span", line.message)]);
}

async function searchLogs(offset) {
  state.logOffset = offset;
  const page = await api("/api/v1/admin/logs", { ...state.logQuery, offset, limit: LOG_PAGE_SIZE });
  if (!page.log_dir) $("log-summary").textContent = "LOG_DIR is not set: the API keeps no log files to search.";
  else $("log-summary").textContent = `${page.items.length} lines (from ${offset + 1})`;
  fill("log-results", page.items.map(logRow), "no matching lines");
  for (const td of $("log-results").querySelectorAll("tbody td:last-child")) td.classList.add("message");
  $("log-prev").disabled = offset === 0;
  $("log-next").disabled = !page.has_more;
  $("log-page").textContent = `page ${Math.floor(offset / LOG_PAGE_SIZE) + 1}`;
}

function storyText(line) {
  const parts = [line.time, line.level, line.process, line.logger, line.message];
  for (const name of ["job_id", "state", "status", "duration_ms", "rows", "rows_per_s", "error_code", "task"]) {
    if (line[name] !== undefined && line[name] !== null) parts.push(`${name}=${line[name]}`);
  }
  return parts.join("  ");
}

async function showStory(requestId) {
  const story = await api(`/api/v1/admin/logs/requests/${encodeURIComponent(requestId)}`);
  $("story").hidden = false;
  $("story-id").textContent = requestId;
  $("story-jobs").textContent = story.job_ids.length ? `jobs: ${story.job_ids.join(", ")}` : "no job";
  $("story-lines").replaceChildren(...story.lines.map((line) => el("li", storyText(line), `level-${line.level}`)));
  $("story").scrollIntoView({ block: "nearest" });
}

// -- refresh and sign-in ------------------------------------------------------------------
async function guarded(work) {
  try {
    await work();
    $("last-update").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error instanceof AuthError) signOut(error.message);
    else $("last-update").textContent = `update failed: ${error.message}`;
  }
}

const refreshLive = () => guarded(async () => {
  const [status, jobs] = await Promise.all([api("/api/v1/admin/status"), api("/api/v1/admin/jobs")]);
  renderStatus(status);
  renderJobs(jobs);
});
const refreshStats = () => guarded(async () => renderStats(await api("/api/v1/admin/stats", { since: "1h" })));

function start() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  refreshLive();
  refreshStats();
  guarded(() => searchLogs(0));
  state.timers = [setInterval(refreshLive, LIVE_EVERY_MS), setInterval(refreshStats, STATS_EVERY_MS)];
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  state.timers.forEach(clearInterval);
  $("dashboard").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.key = $("api-key").value.trim();
    try {
      await api("/api/v1/admin/status");
    } catch (error) {
      signOut(error.message);
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, state.key);
    $("api-key").value = "";
    start();
  });
  $("logout").addEventListener("click", () => signOut(""));
  $("log-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    state.logQuery = {
      q: form.get("q"), level: form.get("level"), request_id: form.get("request_id"), tenant: form.get("tenant"),
      since: isoFromLocal(form.get("since")), until: isoFromLocal(form.get("until")),
    };
    guarded(() => searchLogs(0));
  });
  $("log-prev").addEventListener("click", () => guarded(() => searchLogs(Math.max(0, state.logOffset - LOG_PAGE_SIZE))));
  $("log-next").addEventListener("click", () => guarded(() => searchLogs(state.logOffset + LOG_PAGE_SIZE)));
  $("story-close").addEventListener("click", () => { $("story").hidden = true; });
  if (state.key) start();
});
