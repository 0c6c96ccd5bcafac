// The STACK job dashboard: plain DOM code over the admin API. Every element is built from
// text (textContent), never from HTML, and every call sends the admin token as a bearer.
"use strict";

const API = location.pathname.replace(/\/dashboard\/?$/, "");
const TOKEN_KEY = "stack.admin.token";
const SAMPLES = 150;
const PER_PAGE = 20;
const LISTED = 50;
const SERIES = [
  ["critical", "#b42318"], ["high", "#dc6803"], ["normal", "#1570ef"], ["low", "#6172f3"],
  ["scheduled", "#7a5af8"], ["running", "#099250"], ["dead", "#344054"],
];

const $ = (id) => document.getElementById(id);
const samples = [];
let deadPage = 1;
let timer = null;

/** An element `tag` with `text`, and `cls` when given. */
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function say(text) { $("status").textContent = text; }

/** Calls the admin API; resolves to the parsed JSON, rejects with the problem's detail. */
async function api(method, path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(API + path, {
    method,
    headers: { Authorization: "Bearer " + token, Accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401 || response.status === 403) {
    signOut((body && body.detail) || "the token was refused");
    throw new Error("signed out");
  }
  if (!response.ok) {
    throw new Error((body && (body.detail || body.title)) || response.status + " " + response.statusText);
  }
  return body;
}

function when(value) { return value ? new Date(value).toISOString().replace(".000Z", "Z") : "—"; }

function ageText(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms / 60000) + " min";
}

// ---- queue depth ----

function drawChart() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = 600, height = 180;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...samples.flatMap((s) => SERIES.map(([name]) => s[name])));
  const step = width / Math.max(1, samples.length - 1);
  for (const [name, color] of SERIES) {
    const line = document.createElementNS(ns, "polyline");
    const points = samples.map((s, i) =>
      `${(i * step).toFixed(1)},${(height - 4 - (s[name] / max) * (height - 12)).toFixed(1)}`);
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", "2");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.appendChild(line);
  }
  $("chart").replaceChildren(svg);
  $("chart-scale").textContent = `top of the chart: ${max} jobs; ${samples.length} samples`;
}

async function refreshStats() {
  const stats = await api("GET", "/queue/stats");
  $("backend").textContent = "queue backend: " + stats.backend;
  const sample = { scheduled: stats.scheduled, running: stats.running, dead: stats.dead };
  const ages = {};
  for (const p of stats.by_priority) {
    sample[p.priority] = p.ready;
    ages[p.priority] = p.oldest_ready_age_ms;
  }
  samples.push(sample);
  if (samples.length > SAMPLES) samples.shift();
  drawChart();
  const rows = SERIES.map(([name]) => {
    const row = el("tr");
    const label = el("td");
    label.append(el("span", "", "swatch s-" + name), name + (name in ages ? " (ready)" : ""));
    row.append(label, el("td", sample[name]), el("td", name in ages ? ageText(ages[name]) : ""));
    return row;
  });
  $("stats").tBodies[0].replaceChildren(...rows);
}

// ---- running and scheduled jobs ----

/** `at` relative to now: "in 5.0 s" or "3.2 s ago". */
function fromNow(at) {
  const ms = new Date(at).getTime() - Date.now();
  return ms >= 0 ? "in " + ageText(ms) : ageText(-ms) + " ago";
}

/** Fills table `id` with a row per job (`cells` gives a job's cells), or `empty` when none. */
function fillJobs(id, jobs, cells, empty) {
  const rows = jobs.map((job) => {
    const row = el("tr");
    row.dataset.jobId = job.id;
    row.append(el("td", job.id, "mono"), el("td", job.type), el("td", job.priority), ...cells(job));
    return row;
  });
  if (rows.length === 0) {
    const row = el("tr");
    const cell = el("td", empty, "empty");
    cell.colSpan = $(id + "-table").tHead.rows[0].cells.length;
    row.appendChild(cell);
    rows.push(row);
  }
  $(id + "-table").tBodies[0].replaceChildren(...rows);
}

async function refreshListed(state, cells, empty) {
  const query = { state, limit: LISTED };
  const type = $("listed-type").value.trim();
  if (type) query.type = type;
  const page = await api("GET", "/queue/jobs?" + new URLSearchParams(query));
  fillJobs(state, page.items, cells, empty);
  $(state + "-more").textContent = page.next ? `the first ${page.items.length} shown; more follow` : "";
}

function refreshRunning() {
  return refreshListed("running", (job) => [
    el("td", `${job.attempts}/${job.max_attempts}`),
    el("td", ageText(Math.max(0, Date.now() - new Date(job.enqueued_at).getTime())) + " since enqueue"),
    el("td", `${when(job.lease_expires_at)} (${fromNow(job.lease_expires_at)})`),
    workerCell(job),
  ], "no running jobs");
}

function refreshScheduled() {
  return refreshListed("scheduled", (job) => [
    el("td", `${when(job.run_at)} (${fromNow(job.run_at)})`),
    el("td", `${job.attempts}/${job.max_attempts}`),
    el("td", job.last_error || "—"),
  ], "no scheduled jobs");
}

// ---- dead letters ----

function errorHistory(job) {
  if (!job.errors || job.errors.length === 0) return el("span", "none", "empty");
  const list = el("ol", null, "history");
  for (const e of job.errors) {
    list.appendChild(el("li", `#${e.attempt} ${when(e.at)}: ${e.message}`));
  }
  return list;
}

async function refreshDead() {
  const type = $("dead-type").value.trim();
  const query = new URLSearchParams({ page: deadPage, limit: PER_PAGE });
  if (type) query.set("type", type);
  const page = await api("GET", "/queue/dead-letters?" + query);
  const rows = page.items.map((job) => {
    const row = el("tr");
    row.dataset.jobId = job.id;
    const replay = el("button", "Replay");
    replay.type = "button";
    replay.dataset.replay = job.id;
    replay.addEventListener("click", () => replayOne(job.id, replay));
    const action = el("td");
    action.appendChild(replay);
    const historyCell = el("td");
    historyCell.appendChild(errorHistory(job));
    row.append(el("td", job.id, "mono"), el("td", job.type), el("td", `${job.attempts}/${job.max_attempts}`),
      el("td", job.last_error || "—"), historyCell, action);
    return row;
  });
  if (rows.length === 0) {
    const row = el("tr");
    const cell = el("td", "no dead letters" + (type ? " of type " + type : ""), "empty");
    cell.colSpan = 6;
    row.appendChild(cell);
    rows.push(row);
  }
  $("dead-table").tBodies[0].replaceChildren(...rows);
  $("dead-page").textContent = `page ${page.page} of ${Math.max(1, page.total_pages)} (${page.total_items} dead)`;
  $("dead-prev").disabled = !page.has_prev;
  $("dead-next").disabled = !page.has_next;
}

async function replayOne(id, button) {
  button.disabled = true;
  try {
    await api("POST", `/queue/dead-letters/${encodeURIComponent(id)}/replay`);
    say(`replayed ${id}`);
  } catch (e) {
    say(`replay of ${id} failed: ${e.message}`);
  }
  await refreshAll();
}

/** Opens the confirmation dialog; resolves to whether the operator typed `phrase`. */
function confirmTyped(text, phrase) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-phrase").textContent = phrase;
    const input = $("confirm-input");
    const go = $("confirm-go");
    input.value = "";
    go.disabled = true;
    input.oninput = () => { go.disabled = input.value !== phrase; };
    $("confirm-cancel").onclick = () => dialog.close("cancel");
    dialog.onclose = () => resolve(dialog.returnValue === "go" && input.value === phrase);
    go.value = "go";
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

/** Repeats a bounded bulk call until nothing remains (or it stops making progress). */
async function bulk(path) {
  let total = 0;
  for (;;) {
    const outcome = await api(path.method, path.url);
    total += outcome.done;
    if (outcome.remaining === 0 || outcome.done === 0) return { total, remaining: outcome.remaining };
  }
}

async function replayType() {
  const type = $("dead-type").value.trim();
  if (!type) { say("enter a job type to replay"); return; }
  if (!(await confirmTyped(`Replay every dead letter of type ${type}?`, type))) return;
  try {
    const url = "/queue/dead-letters/replay?" + new URLSearchParams({ type, limit: 1000 });
    const { total, remaining } = await bulk({ method: "POST", url });
    say(`replayed ${total} of type ${type}` + (remaining ? `, ${remaining} remain` : ""));
  } catch (e) {
    say(`replay of type ${type} failed: ${e.message}`);
  }
  await refreshAll();
}

async function purge() {
  const type = $("dead-type").value.trim();
  const phrase = type ? "purge " + type : "purge all";
  const what = type ? `every dead letter of type ${type}` : "every dead letter";
  if (!(await confirmTyped(`Delete ${what} for good? This cannot be undone.`, phrase))) return;
  try {
    const query = new URLSearchParams({ confirm: "true", limit: 1000 });
    if (type) query.set("type", type);
    const { total, remaining } = await bulk({ method: "DELETE", url: "/queue/dead-letters?" + query });
    say(`purged ${total}` + (remaining ? `, ${remaining} remain` : ""));
  } catch (e) {
    say(`purge failed: ${e.message}`);
  }
  await refreshAll();
}

// ---- job by id ----

async function findJob(event) {
  event.preventDefault();
  const id = $("job-id").value.trim();
  const out = $("job-result");
  if (!/^[0-9a-fA-F-]{36}$/.test(id)) { out.replaceChildren(el("p", "a job id is a UUID", "error")); return; }
  try {
    const job = await api("GET", "/queue/jobs/" + encodeURIComponent(id));
    const table = el("table");
    const fields = [["state", job.state], ["type", job.type], ["priority", job.priority],
      ["run at", when(job.run_at)], ["enqueued at", when(job.enqueued_at)],
      ["attempts", `${job.attempts}/${job.max_attempts}`], ["unique key", job.unique_key || "—"],
      ["last error", job.last_error || "—"]];
    for (const [name, value] of fields) {
      const row = el("tr");
      row.append(el("th", name), el("td", value));
      table.appendChild(row);
    }
    const historyRow = el("tr");
    const historyCell = el("td");
    historyCell.appendChild(errorHistory(job));
    historyRow.append(el("th", "error history"), historyCell);
    table.appendChild(historyRow);
    out.replaceChildren(table, el("pre", JSON.stringify(job.payload, null, 2)));
  } catch (e) {
    out.replaceChildren(el("p", e.message, "error"));
  }
}

// ---- schedules ----

async function refreshSchedules() {
  const schedules = await api("GET", "/schedules");
  const rows = schedules.map((s) => {
    const row = el("tr");
    const trigger = el("button", "Trigger now");
    trigger.type = "button";
    trigger.dataset.trigger = s.name;
    trigger.addEventListener("click", async () => {
      trigger.disabled = true;
      try {
        const done = await api("POST", `/schedules/${encodeURIComponent(s.name)}/trigger`);
        say(`triggered ${s.name}: job ${done.job_id}` + (done.duplicate ? " (already queued)" : ""));
      } catch (e) {
        say(`trigger of ${s.name} failed: ${e.message}`);
      }
      trigger.disabled = false;
      await refreshAll();
    });
    const action = el("td");
    action.appendChild(trigger);
    const expression = s.expression + (s.timezone ? ` (${s.timezone})` : "");
    row.append(el("td", s.name), el("td", expression, "mono"), el("td", `${s.job_type} (${s.priority})`),
      el("td", when(s.next_fire)), el("td", when(s.last_fire)), el("td", s.last_error || "—"), action);
    return row;
  });
  if (rows.length === 0) {
    const row = el("tr");
    const cell = el("td", "no schedules configured", "empty");
    cell.colSpan = 7;
    row.appendChild(cell);
    rows.push(row);
  }
  $("schedule-table").tBodies[0].replaceChildren(...rows);
}

// ---- signing in and out, polling ----

async function refreshAll() {
  try {
    await refreshWorkers();
    await Promise.all([refreshStats(), refreshRunning(), refreshScheduled(), refreshDead(),
      refreshSchedules()]);
  } catch (e) {
    if (e.message !== "signed out") say("refresh failed: " + e.message);
  }
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (timer) clearInterval(timer);
  timer = null;
  samples.length = 0;
  $("panels").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = reason || "";
}

function start() {
  $("sign-in").hidden = true;
  $("panels").hidden = false;
  $("sign-out").hidden = false;
  refreshAll();
  timer = setInterval(refreshAll, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("dead-filter").addEventListener("submit", (event) => { event.preventDefault(); deadPage = 1; refreshDead(); });
  $("dead-prev").addEventListener("click", () => { deadPage = Math.max(1, deadPage - 1); refreshDead(); });
  $("dead-next").addEventListener("click", () => { deadPage += 1; refreshDead(); });
  $("replay-type").addEventListener("click", replayType);
  $("purge").addEventListener("click", purge);
  $("job-form").addEventListener("submit", findJob);
  $("listed-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    Promise.all([refreshRunning(), refreshScheduled()]).catch((e) => say("refresh failed: " + e.message));
  });
  if (sessionStorage.getItem(TOKEN_KEY)) start();
});
