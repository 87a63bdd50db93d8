// The Andon board: fetches /v1/board, then follows /v1/events (Server-Sent Events) and
// reconnects when the agent restarts. Plain DOM, no build step; text only through textContent.
//
// It never shows what it does not know. Until the first /v1/board answer the banner is a grey
// CONNECTING and no station is drawn. Every answer from the agent (the board, an event, the
// /v1/line poll every POLL_MS) counts as contact; after STALE_AFTER_MS without one the banner
// turns grey "NO DATA since HH:MM:SS" and the stations dim, until the agent answers again and
// the board is reloaded from it.
"use strict";

const state = { stations: new Map(), recent: [], alerts: [], line: null, tokenRequired: false, traceUi: null };
const RECENT_SHOWN = 20;
const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 2000;
const BOARD_TIMEOUT_MS = 10000;
const STALE_AFTER_MS = 3000;
const PENDING_MAX = 1000;
const $ = (id) => document.getElementById(id);

const live = {
  loaded: false,      // a /v1/board answer has been drawn
  stale: false,       // no answer for STALE_AFTER_MS: the page shows NO DATA
  buffering: false,   // a /v1/board request is out: events wait in `pending`
  lastContact: 0,     // Date.now() of the last answer from the agent
  opened: Date.now(),
  pending: [],        // events received while the board was loading, replayed after it
};

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

// Trace links (`[tracer] ui_url`). The W3C trace id a signal's trace id maps to, exactly as
// andon-core's w3c_trace_id does: 32 hex digits (not all zero) as given, a hyphenated UUID's
// 16 bytes, else the FNV-1a 128 hash of the UTF-8 bytes (a zero hash ends in 01). Spans carry
// that id, so it is what the trace UI knows.
const FNV_OFFSET = 0x6c62272e07bb014262b821756295c58dn;
const FNV_PRIME = (1n << 88n) + 0x13bn;
const MASK_128 = (1n << 128n) - 1n;
function w3cTraceId(id) {
  const nonZero = (hex) => /[1-9a-fA-F]/.test(hex);
  if (/^[0-9a-fA-F]{32}$/.test(id) && nonZero(id)) return id.toLowerCase();
  if (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id)) {
    const compact = id.replace(/-/g, "");
    if (nonZero(compact)) return compact.toLowerCase();
  }
  let hash = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(id)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_128;
  }
  if (hash === 0n) hash = 1n;
  return hash.toString(16).padStart(32, "0");
}

// A plain <a href> to a trace (`url` made by the agent, else built from the trace UI the agent
// names); the id is text, never markup. Nothing without a trace id or an http(s) trace UI.
function traceLink(id, url) {
  if (!id) return null;
  const ui = state.traceUi;
  const href = url || (ui ? ui.replace(/\/+$/, "") + "/trace/" + w3cTraceId(id) : null);
  if (!href || !/^https?:\/\//.test(href)) return null;
  const link = el("a", { className: "trace", href, target: "_blank", rel: "noopener noreferrer" }, ["trace " + id]);
  link.dataset.traceId = id;
  return link;
}

// HH:MM:SS in the wall display's local time.
function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

// The banner while the page has no live state: CONNECTING before the first answer, NO DATA after
// STALE_AFTER_MS without one. Never green, never RUNNING.
function renderUnknown(banner) {
  const nodata = live.stale;
  banner.className = "banner " + (nodata ? "nodata" : "connecting");
  banner.dataset.state = nodata ? "NODATA" : "CONNECTING";
  $("resume-controls").hidden = true;
  if (!nodata) {
    $("line-state").textContent = "CONNECTING…";
    $("line-detail").textContent = "waiting for the agent's first answer: the line's state is not known yet";
    return;
  }
  $("line-state").textContent = "NO DATA since " + clock(live.lastContact || live.opened);
  const line = live.loaded ? state.line : null;
  let known = "the agent has not answered since this page opened";
  if (line) {
    const s = line.signal || {};
    known = "the agent does not answer; last known: the line was " +
      (line.state === "STOPPED" ? "stopped by " + (s.component || "unknown") + ": " + (s.message || "") : "running");
  }
  $("line-detail").textContent = known;
}

function renderLine() {
  const banner = $("line-banner");
  $("board").classList.toggle("stale", live.stale);
  if (!live.loaded || live.stale) {
    renderUnknown(banner);
    return;
  }
  const line = state.line;
  if (!line) return;
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
  $("no-stations").hidden = !live.loaded || names.length > 0;
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
  $("no-alerts").hidden = !live.loaded || state.alerts.length > 0;
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
      traceLink(a.trace_id, a.trace_url),
      button,
    ].filter(Boolean));
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
      traceLink(s.trace_id),
    ].filter(Boolean));
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

// One /v1/board request at a time; every caller shares the one in flight.
let boardInFlight = null;
function refreshBoard() {
  if (!boardInFlight) {
    boardInFlight = loadBoard().finally(() => { boardInFlight = null; });
  }
  return boardInFlight;
}

async function loadBoard() {
  live.buffering = true;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), BOARD_TIMEOUT_MS);
  let board;
  try {
    const response = await fetch("/v1/board", { signal: controller.signal, cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    board = await response.json();
  } catch (e) {
    live.buffering = false;
    if (live.loaded && !live.stale) replayPending();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  state.line = board.line;
  state.stations = new Map(board.stations.map((s) => [s.component, s]));
  state.alerts = board.alerts || [];
  state.recent = board.recent || [];
  state.tokenRequired = Boolean(board.token_required);
  state.traceUi = typeof board.trace_ui_url === "string" ? board.trace_ui_url : null;
  live.loaded = true;
  live.stale = false;
  live.buffering = false;
  contact();
  replayPending();
  renderAll();
  if (!source || source.readyState === EventSource.CLOSED) {
    connect();
  } else if (source.readyState === EventSource.OPEN) {
    setConnection("live", "open");
  }
  refreshHistory().catch(() => {});
}

// Events that arrived while the board was loading: the board may already hold them.
function replayPending() {
  const pending = live.pending;
  live.pending = [];
  const seen = new Set(state.recent.map((s) => s.id));
  let alerts = false;
  for (const [kind, data] of pending) {
    if (kind === "signal" && !seen.has(data.id)) onSignal(data);
    if (kind === "line") applyLine(data);
    if (kind === "alerts") alerts = true;
  }
  if (alerts) refreshAlerts().catch(() => {});
}

// While the board loads (or before it ever has), events wait; returns whether `data` waits.
function held(kind, data) {
  if (live.loaded && !live.buffering) return false;
  if (live.pending.length < PENDING_MAX) live.pending.push([kind, data]);
  return true;
}

// A line state from an event or the poll, unless it is older than the one shown.
function applyLine(line) {
  if (JSON.stringify(line) === JSON.stringify(state.line)) return;
  const shown = state.line && Date.parse(state.line.since);
  const given = Date.parse(line.since);
  if (shown && given && given < shown) return;
  state.line = line;
  renderLine();
}

function contact() {
  live.lastContact = Date.now();
}

// The watchdog: no answer for STALE_AFTER_MS turns the page grey.
function checkStale() {
  const since = live.lastContact || live.opened;
  if (!live.stale && Date.now() - since > STALE_AFTER_MS) {
    live.stale = true;
    setConnection("no data from the agent", "nodata");
    renderAll();
  }
}

// Asks the agent for the line every POLL_MS, so a dead agent, a hung one or a dropped event
// stream is noticed even when no event is due.
async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
  try {
    const response = await fetch("/v1/line", { signal: controller.signal, cache: "no-store" });
    if (!response.ok) return;
    const line = await response.json();
    if (live.stale || !live.loaded) {
      // Back (or never loaded): the whole board comes from the agent before anything is shown.
      if (!live.stale) contact();
      refreshBoard().catch(() => {});
      return;
    }
    contact();
    if (!live.buffering) applyLine(line);
  } catch (e) {
    // unreachable or too slow: the watchdog decides
  } finally {
    clearTimeout(timer);
  }
}

async function refreshAlerts() {
  const response = await fetch("/v1/alerts", { cache: "no-store" });
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

// The history charts (GET /v1/history/...): drawn here as SVG, no chart service. Hidden when
// the agent keeps no history (404).
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// Bars of `values` (objects with label and value) in a 480x260 chart; returns the bar layout.
function drawBars(chart, values, barClass, label) {
  chart.replaceChildren();
  const left = 36, right = 470, top = 12, bottom = 200;
  chart.append(svg("line", { class: "axis", x1: left, y1: bottom, x2: right, y2: bottom }));
  const max = Math.max(0, ...values.map((v) => v.value));
  if (!values.length || max === 0) {
    chart.append(svg("text", { class: "empty-note", x: 240, y: 110, "text-anchor": "middle" }, label));
    return null;
  }
  const step = (right - left) / values.length;
  const width = Math.min(60, Math.max(2, step * 0.7));
  chart.append(svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" }, values.length ? formatValue(max, barClass) : ""));
  values.forEach((v, i) => {
    const height = (v.value / max) * (bottom - top);
    const x = left + i * step + (step - width) / 2;
    const bar = svg("rect", { class: "bar " + barClass, x, y: bottom - height, width, height,
      "data-key": v.label, "data-value": v.value });
    bar.append(svg("title", {}, v.label + ": " + formatValue(v.value, barClass)));
    chart.append(bar);
    if (v.tick !== undefined) {
      chart.append(svg("text", { x: x + width / 2, y: bottom + 14, "text-anchor": "middle" }, v.tick));
    }
  });
  return { left, right, top, bottom, step };
}

function formatValue(value, barClass) {
  return barClass === "downtime" ? duration(value) : String(value);
}

function duration(seconds) {
  return seconds < 60 ? Math.round(seconds) + " s" : Math.round(seconds / 60) + " min";
}

function drawPareto(pareto) {
  const chart = $("pareto-chart");
  const rows = (pareto.rows || []).slice(0, 10);
  const layout = drawBars(chart, rows.map((r) => ({ label: r.key, value: r.count,
    tick: r.key.length > 10 ? r.key.slice(0, 9) + "…" : r.key })), "pareto",
    "No RED or YELLOW signal in the last 24 hours");
  if (!layout) return;
  const { left, top, bottom, step } = layout;
  const points = rows.map((r, i) =>
    (left + i * step + step / 2).toFixed(1) + "," + (bottom - (r.cumulative_percent / 100) * (bottom - top)).toFixed(1));
  chart.append(svg("polyline", { class: "cumulative", points: points.join(" ") }));
  chart.append(svg("text", { x: 470, y: top + 4, "text-anchor": "end" }, "100%"));
}

function drawDowntime(downtime) {
  const buckets = downtime.buckets || [];
  drawBars($("downtime-chart"), buckets.map((b, i) => {
    const hour = new Date(b.start).getHours();
    return { label: new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
      value: b.stopped_seconds, tick: (i % 4 === 0) ? String(hour).padStart(2, "0") + "h" : undefined };
  }), "downtime", "The line did not stop in the last 24 hours");
  $("downtime-total").textContent = duration(downtime.stopped_seconds || 0);
}

async function refreshHistory() {
  if (!live.loaded || live.stale) return; // drawn from the agent's answer, not before it
  const [pareto, downtime] = await Promise.all([
    fetch("/v1/history/pareto?since=24h&by=component"),
    fetch("/v1/history/downtime?since=24h&bucket=1h"),
  ]);
  if (!pareto.ok || !downtime.ok) {
    $("history").hidden = true;
    return;
  }
  $("history").hidden = false;
  drawPareto(await pareto.json());
  drawDowntime(await downtime.json());
}

// After signals and line changes, redraw once things settle (the history writes in the
// background), and every 30 s in any case.
let historyTimer = null;
function historySoon() {
  if (historyTimer) return;
  historyTimer = setTimeout(() => {
    historyTimer = null;
    refreshHistory().catch(() => {});
  }, 1000);
}
setInterval(() => refreshHistory().catch(() => {}), 30000);

let source = null;
let retryDelay = 1000;
function setConnection(text, mode) {
  const badge = $("connection");
  badge.textContent = text;
  badge.dataset.state = mode;
}

// An event from the stream: contact, unless the page shows NO DATA (then only a reloaded board
// brings it back, so nothing half-old is shown as live).
function fromStream() {
  if (live.stale) {
    refreshBoard().catch(() => {});
    return false;
  }
  contact();
  return true;
}

function connect() {
  if (source) source.close();
  source = new EventSource("/v1/events");
  source.addEventListener("open", () => {
    retryDelay = 1000;
    setConnection("connected, loading the board…", "connecting");
    refreshBoard().catch(() => {});
  });
  source.addEventListener("signal", (e) => {
    const signal = JSON.parse(e.data);
    if (!fromStream() || held("signal", signal)) return;
    onSignal(signal);
    historySoon();
  });
  source.addEventListener("line", (e) => {
    const line = JSON.parse(e.data);
    if (!fromStream() || held("line", line)) return;
    applyLine(line);
    historySoon();
  });
  source.addEventListener("alerts", (e) => {
    const alerts = JSON.parse(e.data).alerts || [];
    if (!fromStream() || held("alerts", alerts)) return;
    state.alerts = alerts;
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

// Heartbeats (`[[heartbeats]]`): name, state (up, late, down, never: in words, not only by
// color), last check-in and next due time; the section shows once the agent lists one.
async function refreshHeartbeats() {
  const response = await fetch("/v1/heartbeats", { cache: "no-store" });
  if (!response.ok) return;
  const list = (await response.json()).heartbeats || [];
  $("heartbeats-section").hidden = list.length === 0;
  $("heartbeats").replaceChildren(...list.map((h) => {
    const row = el("li", { className: "heartbeat " + h.state }, [
      el("span", { className: "name", textContent: h.name }),
      el("span", { className: "state", textContent: h.state.toUpperCase() }),
      el("span", { className: "last", textContent: "last check-in " + (h.last_check_in ? when(h.last_check_in) : "never") }),
      el("span", { className: "due", textContent: h.next_due ? "next due " + when(h.next_due) : "awaiting a check-in" }),
    ]);
    row.dataset.name = h.name;
    return row;
  }));
}
setInterval(() => refreshHeartbeats().catch(() => {}), 2000);
refreshHeartbeats().catch(() => {});

refreshBoard().catch(() => setConnection("agent unreachable, retrying…", "reconnecting"));
connect();
setInterval(poll, POLL_MS);
setInterval(checkStale, 500);
