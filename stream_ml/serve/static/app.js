// stream-ml dashboard: everything arrives over the /v1/feed websocket as {type, ts, data}.
"use strict";
(function () {
  const MAX_POINTS = 600;           // ten minutes at one metrics update per second
  const COLORS = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#79c0ff", "#e3b341"];
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem("stream-ml-token"), models: [], metric: null,
    charts: {}, series: {}, lastServed: null, alarms: [], snapshot: null, retry: 500 };
  window.dash = state;  // for people (and tests) poking at the page

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return typeof v === "number" ? v.toFixed(digits === undefined ? 3 : digits) : String(v);
  }
  function when(ts) { return new Date(ts * 1000).toLocaleTimeString(); }

  // -- charts (uPlot) -------------------------------------------------------------------------
  function makeChart(name, el, labels, opts) {
    opts = opts || {};
    if (state.charts[name]) { state.charts[name].destroy(); }
    const empty = el.querySelector(".empty"); if (empty) empty.remove();
    const series = [{}].concat(labels.map((l, i) => Object.assign({
      label: l, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
    }, (opts.seriesOpts || (() => ({})))(l, i))));
    const u = new uPlot({
      width: Math.max(320, el.clientWidth || 460), height: 230, series: series,
      scales: { x: { time: true }, y: opts.y || { auto: true } },
      axes: [{ stroke: "#9aa7b4", grid: { stroke: "#2d3742" } },
             { stroke: "#9aa7b4", grid: { stroke: "#2d3742" }, size: 60 }],
      legend: { live: true },
    }, [[]].concat(labels.map(() => [])), el);
    state.charts[name] = u;
    state.series[name] = { labels: labels, data: [[]].concat(labels.map(() => [])) };
    return u;
  }
  function push(name, ts, values) {
    const s = state.series[name]; if (!s) return;
    s.data[0].push(ts);
    s.labels.forEach((l, i) => s.data[i + 1].push(values[l] === undefined ? null : values[l]));
    if (s.data[0].length > MAX_POINTS) s.data.forEach((col) => col.shift());
    state.charts[name].setData(s.data);
  }
  function sameLabels(name, labels) {
    const s = state.series[name];
    return s && s.labels.length === labels.length && s.labels.every((l, i) => l === labels[i]);
  }

  // -- feed events ----------------------------------------------------------------------------
  function onHello(d) {
    $("engine").textContent = d.engine;
    state.models = d.models || [];
    (d.history || []).forEach(handle);
    if (d.metrics) onMetrics(d.metrics, Date.now() / 1000);
  }

  function onMetrics(d, ts) {
    $("events").textContent = d.events; $("feedback").textContent = d.feedback;
    $("pending").textContent = (d.labels || {}).pending; $("errors").textContent = d.errors.total;
    $("fallbacks").textContent = d.fallbacks;
    const models = Object.keys(d.models || {});
    const first = models.length ? Object.keys(d.models[models[0]].rolling || {})[0] : null;
    if (first && (!sameLabels("metric", models) || state.metric !== first)) {
      state.metric = first; $("metric-name").textContent = first;
      makeChart("metric", $("chart-metric"), models, { y: { range: [0, 1] } });
      makeChart("traffic", $("chart-traffic"), models, { y: { range: [0, 1] } });
    }
    const metric = {}; models.forEach((m) => { metric[m] = d.models[m].rolling[state.metric]; });
    push("metric", ts, metric);
    const served = d.served || {}, prev = state.lastServed || {}, delta = {};
    let total = 0;
    models.forEach((m) => { delta[m] = (served[m] || 0) - (prev[m] || 0); total += delta[m]; });
    const share = {}; models.forEach((m) => { share[m] = total ? delta[m] / total : null; });
    state.lastServed = served; push("traffic", ts, share);
    if (!state.charts.lag) {
      makeChart("lag", $("chart-lag"), ["lag mean (s)", "lag max (s)", "pending"]);
    }
    const lab = d.labels || {};
    push("lag", ts, { "lag mean (s)": lab.lag_mean, "lag max (s)": lab.lag_max, "pending": lab.pending });
    onDriftStats(d.drift || [], ts);
    if (d.snapshot) showSnapshot(d.snapshot);
  }

  function driftName(x) { return (x.name || x.detector || "drift") + (x.field ? "/" + x.field : ""); }
  function onDriftStats(monitors, ts) {
    const rows = monitors.filter((m) => typeof m.statistic === "number");
    const names = []; rows.forEach((m) => { names.push(driftName(m) + " statistic", driftName(m) + " threshold"); });
    if (!names.length) return;
    if (!sameLabels("drift", names)) {
      makeChart("drift", $("chart-drift"), names, { seriesOpts: (l) => l.endsWith("threshold") ? { dash: [6, 4] } : {} });
    }
    const v = {}; rows.forEach((m) => { v[driftName(m) + " statistic"] = m.statistic; v[driftName(m) + " threshold"] = m.threshold; });
    push("drift", ts, v);
  }

  function onAlarm(d, ts) {
    state.alarms.unshift({ ts: ts, d: d });
    state.alarms = state.alarms.slice(0, 5);
    const box = $("alarms");
    box.className = "alarms alarm";
    box.innerHTML = "";
    box.append("DRIFT ALARM");
    const ul = document.createElement("ul");
    state.alarms.forEach((a) => {
      const li = document.createElement("li");
      li.textContent = `${when(a.ts)}: ${driftName(a.d)} statistic ${fmt(a.d.statistic)} > threshold ${fmt(a.d.threshold)}` +
        (a.d.event !== undefined ? ` at event ${a.d.event}` : "");
      ul.append(li);
    });
    box.append(ul);
    if (typeof d.statistic === "number") {
      const names = [driftName(d) + " statistic", driftName(d) + " threshold"];
      if (!state.series.drift || !names.every((n) => state.series.drift.labels.includes(n))) {
        const labels = state.series.drift ? state.series.drift.labels.concat(names.filter((n) => !state.series.drift.labels.includes(n))) : names;
        makeChart("drift", $("chart-drift"), labels, { seriesOpts: (l) => l.endsWith("threshold") ? { dash: [6, 4] } : {} });
      }
      const v = {}; v[names[0]] = d.statistic; v[names[1]] = d.threshold;
      push("drift", ts, v);
    }
  }

  function showSnapshot(s) {
    state.snapshot = s;
    $("snapshot").textContent = `version ${s.version} · ${s.events} events · taken ${s.created_at ? when(s.created_at) : "?"}` +
      (s.tags && s.tags.length ? ` · tags ${s.tags.join(", ")}` : "");
    $("rollback").disabled = false;
    $("rollback").textContent = `roll back to version ${s.version}`;
  }

  function logEvent(type, d, ts) {
    const li = document.createElement("li");
    li.className = type;
    const what = type === "drift_alert" ? `${driftName(d)}: ${fmt(d.statistic)} > ${fmt(d.threshold)}`
      : type === "rollback" ? `to version ${d.version}${d.reason ? " (" + d.reason + ")" : ""}`
      : type === "snapshot" ? `version ${d.version}` : JSON.stringify(d).slice(0, 160);
    li.textContent = `${when(ts)} ${type}: ${what}`;
    const log = $("events-log"); log.prepend(li);
    while (log.children.length > 50) log.lastChild.remove();
  }

  function onPrediction(p) {
    const tr = document.createElement("tr");
    [p.id, p.key, p.model, JSON.stringify(p.y_pred), p.fallback ? "yes" : ""].forEach((v) => {
      const td = document.createElement("td"); td.textContent = v === null ? "" : v; tr.append(td);
    });
    const body = $("predictions"); body.prepend(tr);
    while (body.children.length > 10) body.lastChild.remove();
  }

  function handle(ev) {
    const d = ev.data || {};
    switch (ev.type) {
      case "hello": return onHello(d);
      case "metrics": return onMetrics(d, ev.ts);
      case "prediction": return onPrediction(d);
      case "drift_alert": onAlarm(d, ev.ts); return logEvent(ev.type, d, ev.ts);
      case "snapshot": if (d.version !== undefined) showSnapshot(d); return logEvent(ev.type, d, ev.ts);
      default: return logEvent(ev.type, d, ev.ts);
    }
  }

  // -- connection -----------------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = state.token ? "?token=" + encodeURIComponent(state.token) : "";
    const ws = new WebSocket(`${proto}//${location.host}/v1/feed${q}`);
    let opened = false;
    ws.onopen = () => { opened = true; state.retry = 500; $("status").className = "status up"; $("status").textContent = "live"; };
    ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { console.warn("bad feed message", e); } };
    ws.onclose = () => {
      $("status").className = "status down";
      $("status").textContent = opened ? "disconnected, retrying…" : "refused: set the token?";
      setTimeout(connect, state.retry); state.retry = Math.min(state.retry * 2, 10000);
    };
  }

  function askToken() {
    const t = window.prompt("Bearer token (kept in this tab only):", "");
    if (t !== null) { state.token = t; sessionStorage.setItem("stream-ml-token", t); }
    return state.token;
  }

  $("token-btn").addEventListener("click", askToken);
  $("rollback").addEventListener("click", async () => {
    const s = state.snapshot; if (!s) return;
    if (!window.confirm(`Roll the models back to snapshot ${s.version}?`)) return;
    const token = state.token || askToken(); if (!token) return;
    const r = await fetch(`/v1/snapshots/${s.version}/rollback`, {
      method: "POST", headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ reason: "rollback from the dashboard" }),
    });
    const body = await r.json().catch(() => ({}));
    $("rollback-result").textContent = r.ok ? `rolled back to version ${s.version}` : `refused (${r.status}): ${body.reason || ""}`;
  });
  connect();
})();
