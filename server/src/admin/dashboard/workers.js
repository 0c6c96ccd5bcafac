"use strict";
// The worker processes panel, and which pool holds each running job. Loaded before app.js,
// whose helpers (el, api, ageText, fromNow) it calls once the page runs.

/** The pools of the last `/admin/queue/workers` answer, by id. */
let workersById = new Map();

function shortId(id) { return id.slice(0, 8); }

/** The cell naming the pool that holds a running job: `host:pid (id…)`, or — when none lists it. */
function workerCell(job) {
  if (!job.worker) return el("td", "—", "empty");
  const pool = workersById.get(job.worker);
  const text = pool ? `${pool.host}:${pool.pid} (${shortId(job.worker)})` : shortId(job.worker);
  const cell = el("td", text, "mono");
  cell.dataset.workerId = job.worker;
  return cell;
}

/** Refreshes the panel; a failure shows in it and leaves the other panels alone. */
async function refreshWorkers() {
  let view;
  try {
    view = await api("GET", "/queue/workers");
  } catch (e) {
    if (e.message === "signed out") throw e;
    $("workers-summary").textContent = "the worker list could not be read: " + e.message;
    return;
  }
  workersById = new Map(view.items.map((w) => [w.id, w]));
  $("workers-summary").textContent = view.supported
    ? `pools: ${view.pools}, processes: ${view.processes}, jobs that may run at once: ${view.size}, leases held: ${view.held}`
    : "this queue backend keeps no worker registry";
  const rows = view.items.map((w) => {
    const row = el("tr");
    row.dataset.workerId = w.id;
    row.append(
      el("td", shortId(w.id), "mono"),
      el("td", `${w.host}:${w.pid}`),
      el("td", `${w.size} of max ${w.max}`),
      el("td", String(w.held)),
      el("td", `${w.completed} / ${w.retried} / ${w.dead} / ${w.released} / ${w.lost}`),
      el("td", ageText(Math.max(0, Date.now() - new Date(w.started_at).getTime()))),
      el("td", fromNow(w.seen_at)),
    );
    return row;
  });
  if (rows.length === 0) {
    const row = el("tr");
    const cell = el("td", "no worker pool has reported", "empty");
    cell.colSpan = 7;
    row.appendChild(cell);
    rows.push(row);
  }
  $("workers-table").tBodies[0].replaceChildren(...rows);
}
