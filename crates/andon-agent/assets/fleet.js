// The Fleet view: every agent sharing this agent's PostgreSQL history, from GET /v1/fleet,
// refreshed every few seconds. Fails closed: when the fleet cannot be read the banner says
// NO DATA and the rows are greyed out, never shown as running.
"use strict";

const REFRESH_MS = 2000;

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value == null ? "" : String(value);
  if (className) el.className = className;
  return el;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

function banner(state, detail) {
  const el = document.getElementById("fleet-banner");
  el.dataset.state = state;
  el.className = "banner " + (state === "RUNNING" ? "running" : state === "STOPPED" ? "stopped" : "nodata");
  document.getElementById("fleet-state").textContent = state;
  document.getElementById("fleet-detail").textContent = detail;
}

function render(fleet) {
  const rows = document.getElementById("fleet-rows");
  rows.replaceChildren();
  for (const entry of fleet.instances) {
    const tr = document.createElement("tr");
    tr.dataset.instance = entry.instance;
    tr.dataset.line = entry.line;
    const name = document.createElement("td");
    const link = entry.board_url && safeUrl(entry.board_url);
    if (link) {
      const a = text("a", entry.instance);
      a.href = link;
      name.append(a);
    } else {
      name.textContent = entry.instance;
    }
    tr.append(name);
    const cls = entry.line === "RUNNING" ? "running" : entry.line === "STOPPED" ? "stopped" : "nodata";
    tr.append(text("td", entry.line, "line " + cls));
    const by = entry.line === "STOPPED" || (entry.line === "NO DATA" && entry.last_state === "STOPPED")
      ? `${entry.component || "unknown"}: ${entry.message || ""}`
      : "";
    tr.append(text("td", by));
    tr.append(text("td", `${Math.round(entry.age_seconds)}s ago`));
    tr.append(text("td", entry.version));
    rows.append(tr);
  }
  const summary = `${fleet.running} running, ${fleet.stopped} stopped, ${fleet.no_data} without data`;
  if (fleet.stopped > 0) banner("STOPPED", summary);
  else if (fleet.no_data > 0 || fleet.instances.length === 0) banner("NO DATA", summary);
  else banner("RUNNING", summary);
  const connection = document.getElementById("connection");
  connection.dataset.state = "live";
  connection.textContent = fleet.shared ? "live (shared history)" : "live (this agent only)";
}

async function refresh() {
  try {
    const response = await fetch("/v1/fleet", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    banner("NO DATA", `the fleet cannot be read: ${error.message}`);
    for (const tr of document.querySelectorAll("#fleet-rows tr")) tr.dataset.line = "NO DATA";
    const connection = document.getElementById("connection");
    connection.dataset.state = "lost";
    connection.textContent = "disconnected";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
