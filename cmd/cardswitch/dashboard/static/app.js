// cardswitch live dashboard: polls data (GET /dashboard/data) once a second
// and draws it. No libraries, nothing fetched but the switch's own data.
"use strict";

const $ = (id) => document.getElementById(id);
let updates = 0;

// fmt shows a number or a dash for null (no window or no observations yet).
function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (digits === undefined) digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const pct = (v) => (v === null || v === undefined ? "–" : fmt(v * 100, 1) + " %");
const int = (v) => fmt(v, 0);

function set(id, text) { $(id).textContent = text; }

function state(up) {
  if (up === null || up === undefined) return '<span class="muted">?</span>';
  return up ? '<span class="up">up</span>' : '<span class="down">down</span>';
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function rows(id, list, cells) {
  $(id).tBodies[0].innerHTML = list.map((x) => "<tr>" + cells(x).map((c) => "<td>" + c + "</td>").join("") + "</tr>").join("");
}

// chart draws series (arrays of numbers or nulls, oldest first) on a canvas.
function chart(id, series, opts) {
  opts = opts || {};
  const c = $(id), g = c.getContext("2d");
  const w = c.width, h = c.height, pad = 18;
  g.clearRect(0, 0, w, h);
  let max = opts.max || 0;
  for (const s of series) for (const v of s) if (v !== null && v > max) max = v;
  if (max <= 0) max = 1;
  g.strokeStyle = "#262e3a"; g.fillStyle = "#8a96a8"; g.font = "10px sans-serif"; g.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = pad + ((h - 2 * pad) * i) / 2;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    g.fillText(opts.pct ? fmt((max * (2 - i)) / 2 * 100, 0) + "%" : fmt((max * (2 - i)) / 2), 2, y - 2);
  }
  const colors = ["#58a6ff", "#f0883e"];
  series.forEach((s, k) => {
    const n = Math.max(s.length - 1, 1);
    g.strokeStyle = colors[k % colors.length]; g.lineWidth = 2; g.beginPath();
    let pen = false;
    s.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      const x = (w * i) / n, y = h - pad - ((h - 2 * pad) * v) / max;
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
      pen = true;
    });
    g.stroke();
  });
}

function render(d) {
  set("tps", fmt(d.tps));
  set("messages", int(d.messages));
  $("messages").dataset.value = String(d.messages);
  set("approval", pct(d.approval_rate));
  set("approval-total", pct(d.approval_rate_total));
  set("lat-p50", fmt(d.latency_ms.p50));
  set("lat-p90", fmt(d.latency_ms.p90));
  set("lat-p99", fmt(d.latency_ms.p99));
  set("saf-depth", int(d.destinations.reduce((a, x) => a + x.saf_depth, 0)));
  set("overload", fmt(d.overload_per_second));

  rows("links", d.links, (l) => [esc(l.name), state(l.up), int(l.connections), int(l.in_flight), fmt(l.tps),
    fmt(l.latency_ms.p50), fmt(l.latency_ms.p99), int(l.messages)]);
  if (d.destinations.length === 0) {
    $("destinations").tBodies[0].innerHTML = '<tr><td class="muted" colspan="8">no destinations configured</td></tr>';
  } else {
    rows("destinations", d.destinations, (x) => [esc(x.name), state(x.up), x.connections_up + " / " + x.connections,
      int(x.in_flight), fmt(x.tps), int(x.sent), int(x.saf_depth), fmt(x.saf_oldest_seconds, 0)]);
  }
  const total = d.codes.reduce((a, x) => a + x.total, 0);
  rows("codes", d.codes, (x) => [esc(x.rc), fmt(x.per_second), int(x.total), pct(total ? x.total / total : null)]);

  const j = d.journal;
  set("commit-p50", fmt(j.commit_ms.p50));
  set("commit-p99", fmt(j.commit_ms.p99));
  set("batch-mean", fmt(j.batch_mean, 1));
  set("batch-p99", fmt(j.batch_p99, 0));
  set("commits-ps", fmt(j.commits_per_second));
  set("journal-queue", int(j.queue_depth));
  $("journal-state").innerHTML = j.failed ? '<span class="down">failed</span>' : j.paused ? '<span class="down">paused (disk)</span>' : '<span class="up">ok</span>' + (j.errors ? " · errors " + int(j.errors) : "");
  const wk = d.workers;
  set("workers-busy", int(wk.busy));
  set("workers", int(wk.workers));
  set("utilization", pct(wk.utilization));
  set("queue-depth", int(wk.queue_depth));
  set("queue-capacity", int(wk.queue_capacity));

  const h = d.history;
  chart("chart-tps", [h.map((p) => p.tps)]);
  chart("chart-latency", [h.map((p) => p.latency_p50_ms), h.map((p) => p.latency_p99_ms)]);
  chart("chart-approval", [h.map((p) => p.approval_rate)], { max: 1, pct: true });
  chart("chart-commit", [h.map((p) => p.commit_p99_ms)]);
  chart("chart-util", [h.map((p) => p.utilization)], { max: 1, pct: true });
  chart("chart-queue", [h.map((p) => p.queue_depth), h.map((p) => p.saf_depth)]);

  updates++;
  document.body.dataset.updates = String(updates);
  document.body.dataset.time = d.time; // the sample's time: the browser test matches it with /metrics
  set("updates", String(updates));
  set("updated-at", new Date(d.time).toLocaleTimeString());
}

async function poll() {
  try {
    const r = await fetch("data", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    render(await r.json());
    $("status").textContent = "live";
    $("status").className = "status ok";
  } catch (e) {
    $("status").textContent = "no data: " + e.message;
    $("status").className = "status bad";
  }
  setTimeout(poll, 1000); // after the answer: slow answers never pile up
}
poll();
