// The Andon board: fetches /v1/board, then follows /v1/events (Server-Sent Events) and
// reconnects when the agent restarts. Plain DOM, no build step; text only through textContent.
"use strict";

const state = { stations: new Map(), recent: [], alerts: [], line: null, tokenRequired: false };
const RECENT_SHOWN = 20;
const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem("andon-token") || "";
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    dialog.addEventListener("close", () => {
      const value = $("token-input").value.trim();
      if (value) sessionStorage.setItem("andon-token", value);
      resolve(value);
    }, { once: true });
    dialog.showModal();
  });
}

// POSTs JSON; asks for the token once on 401 and retries.
async function post(path, body, retried) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  if (response.status === 401 && !retried) {
    if (await askToken()) return post(path, body, true);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || ("HTTP " + response.status));
  return answer;
}

function when(text) {
  const date = new Date(text);
  return isNaN(date) ? text : date.toLocaleTimeString();
}

function el(tag, props, children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children || []) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function renderLine() {
  const line = state.line;
  if (!line) return;
  const banner = $("line-banner");
  const stopped = line.state === "STOPPED";
  banner.className = "banner " + (stopped ? "stopped" : "running");
  banner.dataset.state = line.state;
  if (stopped) {
    const s = line.signal || {};
    $("line-state").textContent = "LINE STOPPED";
    $("line-detail").textContent =
      "by " + String(s.color || "red").toUpperCase() + " from " + (s.component || "unknown") +
      ": " + (s.message || "") + " (since " + when(line.since) + ")";
    $("resume-controls").hidden = false;
  } else {
    $("line-state").textContent = "LINE RUNNING";
    const r = line.resumed;
    $("line-detail").textContent = r
      ? "resumed by " + r.by + (r.note ? ": " + r.note : "") + " at " + when(r.at)
      : "since " + when(line.since);
    $("resume-controls").hidden = true;
  }
}

function renderStations() {
  const list = $("stations");
  const names = [...state.stations.keys()].sort();
  $("no-stations").hidden = names.length > 0;
  list.replaceChildren(...names.map((name) => {
    const st = state.stations.get(name);
    const color = st.color;
    const counts = Object.entries(st.counts || {}).map(([c, n]) => c + " " + n).join(" · ");
    const last = st.last_signal || {};
    const openAlerts = state.alerts.filter((a) => a.component === name).length;
    const item = el("li", { className: "station " + color }, [
      el("span", { className: "name" }, [name]),
      el("span", { className: "label" }, [color.toUpperCase()]),
      el("span", { className: "last" }, [last.message || ""]),
      el("span", { className: "counts" }, [counts + (openAlerts ? " · " + openAlerts + " open alert(s)" : "")]),
    ]);
    item.dataset.component = name;
    item.dataset.color = color;
    item.setAttribute("aria-label", name + ": " + color.toUpperCase() + ", " + (last.message || ""));
    return item;
  }));
}

function renderAlerts() {
  $("no-alerts").hidden = state.alerts.length > 0;
  $("alerts").replaceChildren(...state.alerts.map((a) => {
    const button = el("button", { type: "button", className: "ack" }, [a.acknowledged_by ? "Acknowledged" : "Acknowledge"]);
    button.disabled = Boolean(a.acknowledged_by);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await post("/v1/alerts/" + encodeURIComponent(a.fingerprint) + "/ack", { by: "board" });
        await refreshAlerts();
      } catch (e) {
        button.disabled = false;
        button.textContent = "Acknowledge (failed: " + e.message + ")";
      }
    });
    const item = el("li", { className: "alert " + a.severity }, [
      el("span", { className: "severity" }, [String(a.severity).toUpperCase()]),
      el("span", { className: "rule" }, [a.rule]),
      el("span", { className: "summary" }, [a.summary]),
      el("span", { className: "since" }, [a.state + " since " + when(a.since) + (a.acknowledged_by ? ", acknowledged by " + a.acknowledged_by : "")]),
      button,
    ]);
    item.dataset.fingerprint = a.fingerprint;
    return item;
  }));
}

function renderRecent() {
  $("recent").replaceChildren(...state.recent.slice(0, RECENT_SHOWN).map((s) => {
    const item = el("li", { className: s.color }, [
      el("time", { dateTime: s.timestamp }, [when(s.timestamp)]),
      el("span", { className: "color" }, [String(s.color).toUpperCase()]),
      (s.component ? s.component + ": " : "") + s.message,
    ]);
    item.dataset.id = s.id;
    return item;
  }));
}

function renderAll() {
  renderLine();
  renderStations();
  renderAlerts();
  renderRecent();
}

async function refreshBoard() {
  const response = await fetch("/v1/board");
  if (!response.ok) throw new Error("HTTP " + response.status);
  const board = await response.json();
  state.line = board.line;
  state.stations = new Map(board.stations.map((s) => [s.component, s]));
  state.alerts = board.alerts || [];
  state.recent = board.recent || [];
  state.tokenRequired = Boolean(board.token_required);
  renderAll();
}

async function refreshAlerts() {
  const response = await fetch("/v1/alerts");
  if (!response.ok) return;
  state.alerts = (await response.json()).alerts || [];
  renderAlerts();
  renderStations();
}

function onSignal(signal) {
  const name = signal.component || "unknown";
  const station = state.stations.get(name) || { component: name, counts: {} };
  station.color = signal.color;
  station.last_signal = signal;
  station.counts = Object.assign({}, station.counts);
  station.counts[signal.color] = (station.counts[signal.color] || 0) + 1;
  state.stations.set(name, station);
  state.recent.unshift(signal);
  state.recent.length = Math.min(state.recent.length, RECENT_SHOWN);
  renderStations();
  renderRecent();
}

let source = null;
let retryDelay = 1000;
function setConnection(text, mode) {
  const badge = $("connection");
  badge.textContent = text;
  badge.dataset.state = mode;
}

function connect() {
  if (source) source.close();
  source = new EventSource("/v1/events");
  source.addEventListener("open", () => {
    retryDelay = 1000;
    setConnection("live", "open");
    refreshBoard().catch(() => {});
  });
  source.addEventListener("signal", (e) => onSignal(JSON.parse(e.data)));
  source.addEventListener("line", (e) => {
    state.line = JSON.parse(e.data);
    renderLine();
  });
  source.addEventListener("alerts", (e) => {
    state.alerts = JSON.parse(e.data).alerts || [];
    renderAlerts();
    renderStations();
  });
  source.addEventListener("lagged", () => refreshBoard().catch(() => {}));
  source.addEventListener("error", () => {
    setConnection("reconnecting…", "reconnecting");
    // The browser retries by itself after a network error; after an HTTP error or an ended
    // stream it gives up (CLOSED), so reconnect ourselves with a growing delay.
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    }
  });
}

$("resume").addEventListener("click", async () => {
  const note = $("resume-note").value.trim() || undefined;
  try {
    const answer = await post("/v1/line/resume", { by: "board", note });
    state.line = answer.line;
    $("resume-note").value = "";
    renderLine();
  } catch (e) {
    $("line-detail").textContent += " (resume failed: " + e.message + ")";
  }
});

refreshBoard().catch(() => setConnection("agent unreachable, retrying…", "reconnecting"));
connect();
