// stream-ml dashboard: everything arrives over the /v1/feed websocket as {type, ts, data}.
//
// Time axis: every chart's x is the SERVER's wall clock (seconds since the epoch) at the
// metrics update that produced the point, shown in this browser's time zone. Event times of
// the stream (observations' ts) are never plotted on it: a replayed stream's event times can be
// anything. On connect the server sends "history" (its ring buffer of the last N updates, the
// drift episodes, the last sampled predictions); each later "metrics" event carries the row it
// added ("point"), so the page never derives a value the server did not compute.
"use strict";
(function () {
  const COLORS = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#79c0ff", "#e3b341"];
  const SHADE = "rgba(248, 81, 73, 0.28)", EDGE = "rgba(248, 81, 73, 0.9)";
  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem("stream-ml-token"), retry: 500,
    points: 600, ts: [], series: {}, drift: {}, monitors: [], episodes: [],
    metric: null, charts: {}, specs: {}, drawn: {}, alarms: [], snapshot: null,
    events: 0, gotMetrics: false, models: [], slices: null, calibration: {},
    reliability: null,  // the reliability chart (not in charts: its x is no time axis)
  };
  window.dash = state;  // for people (and tests) poking at the page

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return typeof v === "number" ? v.toFixed(digits === undefined ? 3 : digits) : String(v);
  }
  function when(ts) { return new Date(ts * 1000).toLocaleTimeString(); }
  function el(tag, cls, text) {
    const e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; return e;
  }

  // -- the client's copy of the server's ring buffer -------------------------------------------
  function loadHistory(h) {
    state.points = h.points || state.points;
    state.ts = (h.ts || []).slice();
    state.series = {};
    Object.keys(h.series || {}).forEach((k) => { state.series[k] = h.series[k].slice(); });
    state.drift = h.drift || {};
    state.episodes = h.episodes || [];
    (h.predictions || []).forEach(onPrediction);
  }
  function addPoint(p) {
    const n = state.ts.length;
    state.ts.push(p.ts);
    Object.keys(state.series).forEach((k) => {
      const v = p.values[k]; state.series[k].push(v === undefined ? null : v);
    });
    Object.keys(p.values).forEach((k) => {
      if (!(k in state.series) && p.values[k] !== null) {
        state.series[k] = new Array(n).fill(null).concat([p.values[k]]);
      }
    });
    if (state.ts.length > state.points) {
      state.ts.shift(); Object.values(state.series).forEach((c) => c.shift());
    }
  }
  function ordered(models) {  // the engine's order (hello), then any others (challengers)
    const known = state.models.filter((m) => models.includes(m));
    return known.concat(models.filter((m) => !known.includes(m)).sort());
  }
  function names(prefix) { return Object.keys(state.series).filter((k) => k.startsWith(prefix)).sort(); }

  // -- charts (uPlot) ---------------------------------------------------------------------------
  // spec: {panel, title, lines: [{key, label, dash?, scale?, step?}], axes: [{scale, label}],
  //        episodes?: driftKey}; one y axis per unit (a scale), never two units on one axis.
  // The time window every chart shows: the history's first to last update. uPlot's own range
  // for a single time value is years wide (it drew 2027-2029 for one point), so it is set here.
  function xWindow() {
    if (!state.ts.length) { const now = Date.now() / 1000; return [now - 60, now]; }
    const lo = state.ts[0], hi = state.ts[state.ts.length - 1];
    return hi - lo < 1 ? [hi - 30, hi + 30] : [lo, hi];
  }
  function shade(name, u) {
    const spec = state.specs[name]; if (!spec || !spec.episodes) return;
    const eps = episodesOf(spec.episodes);
    const ctx = u.ctx, b = u.bbox, last = state.ts.length ? state.ts[state.ts.length - 1] : null;
    let n = 0;
    ctx.save(); ctx.fillStyle = SHADE;
    eps.forEach((ep) => {
      const end = ep.end !== null && ep.end !== undefined ? ep.end : last;
      if (end === null) return;
      let x0 = u.valToPos(ep.start, "x", true), x1 = u.valToPos(end, "x", true);
      x0 = Math.max(x0, b.left); x1 = Math.min(x1, b.left + b.width);
      if (x1 < b.left || x0 > b.left + b.width) return;
      const px = window.devicePixelRatio || 1;
      ctx.fillRect(x0, b.top, Math.max(x1 - x0, 3 * px), b.height);
      ctx.fillStyle = EDGE; ctx.fillRect(x0, b.top, 2 * px, b.height); ctx.fillStyle = SHADE;  // its start
      n += 1;
    });
    ctx.restore();
    state.drawn[name] = n;
  }
  function chart(name, spec) {
    if (!spec.lines.length) { spec.box.classList.add("waiting"); return; }
    const same = state.specs[name] && JSON.stringify(state.specs[name].lines) === JSON.stringify(spec.lines);
    state.specs[name] = spec;
    if (!same) {
      if (state.charts[name]) state.charts[name].destroy();
      const box = spec.box;
      box.querySelectorAll(".uplot").forEach((c) => c.remove());
      const scales = { x: { time: true } };
      spec.axes.forEach((a) => { scales[a.scale] = a.range ? { range: a.range } : { auto: true }; });
      const axes = [{ stroke: "#9aa7b4", grid: { stroke: "#2d3742" }, label: "server time (wall clock, local)", labelSize: 20 }]
        .concat(spec.axes.map((a, i) => ({
          scale: a.scale, label: a.label, labelSize: 20, stroke: "#9aa7b4", size: 56,
          side: i === 0 ? 3 : 1, grid: { show: i === 0, stroke: "#2d3742" },
        })));
      const series = [{}].concat(spec.lines.map((l, i) => ({
        label: l.label, scale: l.scale || spec.axes[0].scale, stroke: l.color || COLORS[i % COLORS.length],
        width: 2, spanGaps: true, dash: l.dash, paths: l.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: false },
      })));
      state.charts[name] = new uPlot({
        width: Math.max(320, box.clientWidth || 460), height: 220, series: series, scales: scales, axes: axes,
        legend: { live: true }, hooks: { drawClear: [(u) => shade(name, u)] },
      }, data(spec), box);
      if (!box.dataset.observed && window.ResizeObserver) {  // follow the grid cell's width
        box.dataset.observed = "1";
        new ResizeObserver(() => {
          const u = state.charts[name], w = Math.max(320, box.clientWidth);
          if (u && Math.abs(u.width - w) > 2) u.setSize({ width: w, height: 220 });
        }).observe(box);
      }
    } else {
      state.charts[name].setData(data(spec));
    }
    const [lo, hi] = xWindow();
    state.charts[name].setScale("x", { min: lo, max: hi });
    spec.box.classList.toggle("waiting", isWaiting(spec));
  }
  function data(spec) {
    return [state.ts.slice()].concat(spec.lines.map((l) => (state.series[l.key] || state.ts.map(() => null)).slice()));
  }
  function isWaiting(spec) {
    return !spec.lines.some((l) => (state.series[l.key] || []).some((v) => v !== null));
  }
  function points(name) {  // x values where this chart has at least one value
    const spec = state.specs[name]; if (!spec) return 0;
    return state.ts.filter((_, i) => spec.lines.some((l) => ((state.series[l.key] || [])[i] ?? null) !== null)).length;
  }
  state.points_of = points;

  // -- drift episodes ---------------------------------------------------------------------------
  function episodesOf(key) {
    const meta = state.drift[key] || {};
    const siblings = Object.values(state.drift).filter((m) => m.name === meta.name).length;
    return state.episodes.filter((ep) => ep.monitor === meta.name &&
      (siblings <= 1 || (meta.fields || []).includes(ep.field)));
  }
  function onDriftRecord(type, d, ts) {
    if (type === "drift_alert") {
      state.episodes.push({ monitor: d.monitor, episode: d.episode, detector: d.detector, field: d.field,
        severity: d.severity, start: ts, end: d.episode === null || d.episode === undefined ? ts : null,
        start_event: d.engine_event, statistic: d.statistic, threshold: d.threshold, reason: null });
    } else {
      for (let i = state.episodes.length - 1; i >= 0; i--) {
        const ep = state.episodes[i];
        if (ep.monitor === d.monitor && ep.episode === d.episode) {
          Object.assign(ep, { end: ts, end_event: d.engine_event, reason: d.reason, severity: d.severity }); break;
        }
      }
    }
    if (state.episodes.length > 100) state.episodes.shift();
  }

  // -- rendering --------------------------------------------------------------------------------
  function render() {
    const models = ordered(names("traffic:").map((k) => k.slice(8)));
    const metricNames = [...new Set(names("metric:").map((k) => k.slice(k.lastIndexOf(":") + 1)))];
    if (metricNames.length && !metricNames.includes(state.metric)) state.metric = metricNames[0];
    const sel = $("metric-select");
    if (sel.options.length !== metricNames.length) {
      sel.innerHTML = ""; metricNames.forEach((m) => sel.append(new Option(m, m)));
    }
    sel.value = state.metric || ""; sel.hidden = metricNames.length < 2;
    $("metric-name").textContent = state.metric || "metric";
    // metric:<model>:<metric>: a metric name has no colon, a model name may
    const metricModels = ordered([...new Set(names("metric:").map((k) => k.slice(7, k.lastIndexOf(":"))))]);
    chart("metric", { box: $("chart-metric"), axes: [{ scale: "metric", label: state.metric || "metric" }],
      lines: metricModels.map((m) => ({ key: `metric:${m}:${state.metric}`, label: m })) });
    chart("traffic", { box: $("chart-traffic"), axes: [{ scale: "share", label: "share of predictions", range: [0, 1] }],
      lines: models.map((m) => ({ key: `traffic:${m}`, label: m })) });
    chart("lag", { box: $("chart-lag"), axes: [{ scale: "s", label: "seconds (event time)" }],
      lines: [{ key: "labels:lag_mean", label: "lag mean (s)" }, { key: "labels:lag_max", label: "lag max (s)" }] });
    chart("pending", { box: $("chart-pending"), axes: [{ scale: "n", label: "predictions" }],
      lines: [{ key: "labels:pending", label: "pending labels" }] });
    renderDrift();
    renderFeatures();
  }

  function renderDrift() {
    const keys = Object.keys(state.drift).sort();
    $("drift-empty").hidden = keys.length > 0;
    const holder = $("drift-charts");
    keys.forEach((key) => {
      const meta = state.drift[key];
      let panel = holder.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (!panel) {
        panel = el("div", "drift-monitor"); panel.dataset.key = key;
        panel.append(el("h3"), el("p", "note"), el("div", "chart"));
        holder.append(panel);
      }
      const what = `${meta.detector || "detector"} on ${meta.on === "features" ? (meta.fields || []).join(", ") : meta.on}` +
        (meta.model ? ` (model ${meta.model})` : "");
      const entry = state.monitors.find((m) => (m.key || m.name) === key) || {};
      panel.querySelector("h3").textContent = `${key}: ${what}`;
      const eps = episodesOf(key);
      const stateText = !entry.state ? "state –" : entry.state === "recovered"
        ? "state recovered (episode open, checks calm again)" : `state ${entry.state}`;
      const epText = `${entry.episodes ?? eps.length} episode(s)` + (entry.suppressed ? `, ${entry.suppressed} suppressed by the rate limit` : "");
      const box = panel.querySelector(".chart");
      if (meta.statistic_kind === "alarms") {
        const params = meta.params && Object.keys(meta.params).length
          ? " (" + Object.entries(meta.params).map(([k, v]) => `${k}=${v}`).join(", ") + ")" : "";
        panel.querySelector(".note").textContent = `${stateText} · ${epText} · ${meta.kind || "this detector"}${params} ` +
          "reports alarms only: it has no statistic or threshold between alarms, so its alarms so far are charted.";
        chart(`drift:${key}`, { box: box, episodes: key, axes: [{ scale: "alarms", label: "alarms so far" }],
          lines: [{ key: `drift:${key}:alerts`, label: "alarms", step: true }] });
      } else {
        panel.querySelector(".note").textContent = `${stateText} · ${epText} · shaded: drift episodes`;
        chart(`drift:${key}`, { box: box, episodes: key, axes: [{ scale: "stat", label: "statistic" }],
          lines: [{ key: `drift:${key}:statistic`, label: "statistic" },
                  { key: `drift:${key}:threshold`, label: "threshold", dash: [6, 4], color: "#e3b341" }] });
      }
    });
  }

  const FEATURE_LINES = ["late_dropped", "late_included", "out_of_order", "evictions_ttl", "evictions_lru", "errors"];
  function renderFeatures() {
    if (!("features:keys" in state.series)) return;
    $("features-panel").hidden = false;
    chart("features", { box: $("chart-features"),
      axes: [{ scale: "keys", label: "keys held" }, { scale: "perint", label: "events per update" }],
      lines: [{ key: "features:keys", label: "keys", scale: "keys", color: "#e6edf3" }]
        .concat(FEATURE_LINES.map((k) => ({ key: `features:${k}`, label: k.replace(/_/g, " "), scale: "perint" }))) });
  }

  function showFeatureCounts(f) {
    if (!f) return;
    $("features-panel").hidden = false;
    const body = $("feature-counts"); body.innerHTML = "";
    ["keys", "events", "labels", "late", "late_dropped", "late_included", "out_of_order",
      "evictions_ttl", "evictions_lru", "errors"].forEach((k) => {
      const tr = el("tr"); tr.append(el("td", "", k.replace(/_/g, " ")), el("td", "num", fmt(f[k], 0))); body.append(tr);
    });
  }

  // the banner: waiting for data / no monitor / warming up / all ok / drifting
  function banner() {
    const box = $("alarms"); box.innerHTML = "";
    const mons = state.monitors;
    const drifting = mons.filter((m) => m.state === "drifting");
    const open = state.episodes.filter((e) => e.episode !== null && e.episode !== undefined && (e.end === null || e.end === undefined));
    if (!state.gotMetrics || !state.events) {
      box.className = "alarms waiting"; box.textContent = "waiting for data: no event has reached the engine yet";
      return;
    }
    const now = state.ts.length ? state.ts[state.ts.length - 1] : Date.now() / 1000;
    const instant = state.episodes.filter((e) => (e.episode === null || e.episode === undefined) && e.start > now - 60);
    const openOf = (n) => open.filter((e) => e.monitor === n).pop();
    const since = (n) => { const ep = openOf(n); return ep ? ` since ${when(ep.start)} (episode ${ep.episode}${ep.severity ? ", " + ep.severity : ""})` : ""; };
    const known = new Set(mons.map((m) => m.name));
    // an open episode of a monitor the metrics do not list yet counts as drifting
    const driftNames = [...new Set(drifting.map((m) => m.name).concat(open.map((e) => e.monitor).filter((n) => !known.has(n))))];
    const recovering = [...new Set(mons.filter((m) => m.state === "recovered").map((m) => m.name))];
    if (driftNames.length || instant.length) {
      box.className = "alarms alarm";
      const parts = driftNames.map((n) => `${n} drifting${since(n)}`);
      instant.forEach((e) => { const n = driftName(e) + " alarm"; if (!parts.includes(n)) parts.push(n); });
      box.append("DRIFT: " + parts.join("; "));
      if (recovering.length) box.append(el("div", "sub", `recovering: ${recovering.join(", ")}`));
    } else if (recovering.length) {
      box.className = "alarms warn";
      box.textContent = "drift episode still open, checks under the threshold again (recovering): " +
        recovering.map((n) => n + since(n)).join("; ");
    } else if (!mons.length) {
      box.className = "alarms neutral"; box.textContent = "no drift monitor configured";
    } else {
      const warming = mons.filter((m) => m.statistic_kind !== "alarms" && (m.statistic === null || m.statistic === undefined));
      if (warming.length === mons.length) {
        box.className = "alarms waiting";
        box.textContent = `drift monitors warming up: ${warming.map((m) => m.key || m.name).join(", ")} (reference window filling)`;
      } else {
        box.className = "alarms ok";
        box.textContent = `no drift: ${mons.length} detector(s) ok` + (warming.length ? ` (${warming.length} still warming up)` : "");
      }
    }
    const ev = evaluationAlarms();
    if (ev.length) {  // open slice / calibration episodes: a warning, under a drift alarm if any
      if (box.className === "alarms ok" || box.className === "alarms neutral") box.className = "alarms warn";
      box.append(el("div", "sub evaluation", `SLICES / CALIBRATION: ${ev.join("; ")}`));
    }
    if (state.alarms.length) {
      const ul = el("ul");
      state.alarms.forEach((a) => ul.append(el("li", "", `${when(a.ts)}: ${alarmText(a.type, a.d)}`)));
      box.append(ul);
    }
  }

  function evaluationAlarms() {
    const isOpen = (a) => a.end === null || a.end === undefined;
    const sl = state.slices || {};
    const out = (sl.alarms || []).filter(isOpen).map((a) => {  // now, as the table shows it
      const entry = (sl.models || {})[a.model] || {};
      const row = (entry.slices || []).find((r) => r.slice === a.slice) || a;
      return `${a.model} ${a.slice} ${fmt(row.value)} vs overall ${fmt(entry.overall ?? a.overall)} since event ${a.start}`;
    });
    Object.keys(state.calibration).forEach((m) => {
      const c = state.calibration[m];
      if ((c.alarms || []).some(isOpen)) out.push(`${m} ECE ${fmt(c.ece)} over ${fmt(c.threshold)}`);
    });
    return out;
  }

  function driftName(x) { return (x.monitor || x.name || x.detector || "drift") + (x.field ? "/" + x.field : ""); }
  function alarmText(type, d) {
    if (type === "drift_end") {
      return `${driftName(d)} episode ${d.episode} ended (${d.reason}) after ${d.alarms} alarm(s)` +
        (d.peak_statistic !== null && d.peak_statistic !== undefined ? `, peak ${fmt(d.peak_statistic)}` : "");
    }
    const where = d.engine_event !== undefined ? ` at event ${d.engine_event}` : (d.event !== undefined ? ` at event ${d.event}` : "");
    const ep = d.episode !== null && d.episode !== undefined ? ` opens episode ${d.episode}${d.severity ? " (" + d.severity + ")" : ""}` : "";
    if (typeof d.statistic !== "number") return `${driftName(d)}: ${d.detector || "detector"} alarm${ep}${where} (this detector reports no statistic)`;
    return `${driftName(d)}: statistic ${fmt(d.statistic)} > threshold ${fmt(d.threshold)}${ep}${where}`;
  }

  // -- feed events ----------------------------------------------------------------------------
  function counters(d) {
    if (!d) return;
    state.gotMetrics = true; state.events = d.events || 0;
    $("events").textContent = d.events; $("feedback").textContent = d.feedback;
    $("pending").textContent = (d.labels || {}).pending; $("errors").textContent = (d.errors || {}).total;
    $("fallbacks").textContent = d.fallbacks;
    state.monitors = d.drift || [];
    state.monitors.forEach((m) => {
      const key = m.key || m.name;
      state.drift[key] = Object.assign(state.drift[key] || {}, {
        name: m.name, detector: m.detector, kind: m.kind, params: m.params, on: m.on, model: m.model,
        fields: m.fields, statistic_kind: m.statistic_kind });
    });
    showFeatureCounts(d.features);
    if (d.snapshot) showSnapshot(d.snapshot);
    showSlices(d.slices);
    showCalibration(d.models || {});
  }

  // -- slices and calibration (summary()["slices"], each model's "calibration") -----------------
  const WORST = 5;
  const isOther = (name) => name === "other" || String(name).startsWith("other:");
  function intervalBar(row, overall, lo, hi) {
    // the slice's interval (shaded), its value (a tick) and the overall value (dashed), on the
    // range [lo, hi] shared by the model's rows
    const bar = el("div", "ibar"), span = hi - lo || 1;
    const pos = (v) => `${Math.max(0, Math.min(100, (v - lo) / span * 100))}%`;
    if (typeof row.lo === "number" && typeof row.hi === "number") {
      const s = el("div", "span"); s.style.left = pos(row.lo);
      s.style.width = `calc(${pos(row.hi)} - ${pos(row.lo)})`; bar.append(s);
    }
    if (typeof row.value === "number") { const v = el("div", "val"); v.style.left = pos(row.value); bar.append(v); }
    if (typeof overall === "number") { const o = el("div", "overall"); o.style.left = pos(overall); bar.append(o); }
    bar.title = `${fmt(row.value)} [${fmt(row.lo)}, ${fmt(row.hi)}]` + (typeof overall === "number" ? `; overall ${fmt(overall)}` : "");
    return bar;
  }
  function showSlices(sl) {
    if (!sl) return;
    state.slices = sl;
    $("slices-panel").hidden = false;
    $("slices-what").textContent = `${sl.metric || "metric"} by ${(sl.by || []).join(", ")}`;
    const open = (sl.alarms || []).filter((a) => a.end === null || a.end === undefined).length;
    if (!Object.values(sl.models || {}).some((m) => (m.slices || []).length)) {
      $("slices-note").textContent = "waiting for data: no label has been scored yet";
    } else $("slices-note").textContent = `alarm when a slice's interval is ${fmt(sl.margin)} ${/^(MAE|MSE|RMSE|RMSLE|MAPE|SMAPE|LogLoss|CrossEntropy)\b/.test(sl.metric || "") ? "above" : "below"} the overall (dashed); ` +
      `${sl.tracked} slices tracked per dimension, the rest in other · ${(sl.alarms || []).length} alarm episode(s), ${open} open`;
    const holder = $("slices");
    const names = ordered(Object.keys(sl.models || {}));
    holder.querySelectorAll("[data-model]").forEach((n) => { if (!names.includes(n.dataset.model)) n.remove(); });
    names.forEach((name) => {
      const entry = sl.models[name] || {}, rows = entry.slices || [];
      let box = holder.querySelector(`[data-model="${CSS.escape(name)}"]`);
      if (!box) {
        box = el("div", "slice-model"); box.dataset.model = name;
        const t = el("table"); t.innerHTML = "<thead><tr><th>slice</th><th>n</th><th>value</th><th>interval</th><th></th><th>alarm</th></tr></thead><tbody></tbody>";
        box.append(el("h3"), t); holder.append(box);
      }
      box.querySelector("h3").textContent = `${name}: overall ${fmt(entry.overall)}` + (entry.metric ? ` (${entry.metric})` : "");
      const shown = rows.filter((r) => !isOther(r.slice)).slice(0, WORST).concat(rows.filter((r) => isOther(r.slice)));
      const nums = shown.flatMap((r) => [r.lo, r.hi, r.value]).concat([entry.overall]).filter((v) => typeof v === "number");
      const lo = nums.length ? Math.min(...nums) : 0, hi = nums.length ? Math.max(...nums) : 1;
      const pad = (hi - lo) * 0.05 || 0.05;
      const sig = JSON.stringify([entry.overall, shown]);
      if (box.dataset.sig === sig) return;  // unchanged: the rows stay (hover, selection)
      box.dataset.sig = sig;
      const body = box.querySelector("tbody"); body.innerHTML = "";
      shown.forEach((r) => {
        const tr = el("tr", r.alarm ? "alarm" : (isOther(r.slice) ? "other" : ""));
        tr.dataset.slice = r.slice;
        const bar = el("td", "bar"); bar.append(intervalBar(r, entry.overall, lo - pad, hi + pad));
        tr.append(el("td", "", r.slice), el("td", "num", fmt(r.n, 0)), el("td", "num", fmt(r.value)),
          el("td", "num", `[${fmt(r.lo)}, ${fmt(r.hi)}]`), bar, el("td", "", r.alarm ? "ALARM" : ""));
        body.append(tr);
      });
    });
  }

  function showCalibration(models) {
    const cal = {};
    Object.keys(models).forEach((m) => { if (models[m] && models[m].calibration) cal[m] = models[m].calibration; });
    const names = ordered(Object.keys(cal));
    if (!names.length) return;
    state.calibration = cal;
    $("calibration-panel").hidden = false;
    const body = $("ece"), sig = JSON.stringify(names.map((m) => [m, cal[m].ece, cal[m].n, cal[m].window, cal[m].threshold, cal[m].alarms]));
    if (body.dataset.sig !== sig) { body.dataset.sig = sig; body.innerHTML = ""; } else { reliability(names, cal); return; }
    names.forEach((m) => {
      const c = cal[m], open = (c.alarms || []).some((a) => a.end === null || a.end === undefined);
      const tr = el("tr", open ? "alarm" : ""); tr.dataset.model = m;
      tr.append(el("td", "", m), el("td", "num", fmt(c.ece)), el("td", "num", `${fmt(c.n, 0)} / ${fmt(c.window, 0)}`),
        el("td", "", open ? `ECE over ${fmt(c.threshold)}` : (typeof c.threshold === "number" ? `ok (≤ ${fmt(c.threshold)})` : "")));
      body.append(tr);
    });
    reliability(names, cal);
  }

  // x: each bin's centre; y: the share right among the bin's events (none: a gap); the diagonal
  // is perfect calibration. One chart for every classifier, drawn again on each update.
  function reliability(names, cal) {
    const bins = (cal[names[0]].bins || []);
    const xs = bins.map((b) => (b.lo + b.hi) / 2);
    const lines = names.map((m) => (cal[m].bins || []).map((b) => (b.n ? b.accuracy : null)));
    const data = [xs, xs.slice()].concat(lines);
    const box = $("chart-reliability");
    const key = names.join("\u0000") + "|" + xs.length;
    if (state.reliability && state.reliabilityKey === key) {
      state.reliability.setData(data);
    } else {
      if (state.reliability) state.reliability.destroy();
      box.querySelectorAll(".uplot").forEach((c) => c.remove());
      state.reliabilityKey = key;
      const series = [{ label: "confidence" }, { label: "perfect", stroke: "#9aa7b4", dash: [6, 4], width: 1, points: { show: false } }]
        .concat(names.map((m, i) => ({ label: `${m} (ECE ${fmt(cal[m].ece)})`, stroke: COLORS[i % COLORS.length], width: 2,
          spanGaps: false, points: { show: true, size: 6 } })));
      state.reliability = new uPlot({
        width: Math.max(320, box.clientWidth || 460), height: 240, series: series,
        scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
        axes: [{ stroke: "#9aa7b4", grid: { stroke: "#2d3742" }, label: "confidence (top-label probability, bin centre)", labelSize: 20 },
               { stroke: "#9aa7b4", grid: { stroke: "#2d3742" }, label: "accuracy in the bin", labelSize: 20, size: 56 }],
        legend: { live: false },
      }, data, box);
    }
    // the legend carries each model's current ECE
    const rows = box.querySelectorAll(".u-legend .u-series"), offset = rows.length - names.length;
    names.forEach((m, i) => {
      const text = rows[offset + i] && rows[offset + i].querySelector(".u-label");
      if (text) text.textContent = `${m} (ECE ${fmt(cal[m].ece)})`;
    });
    box.classList.toggle("waiting", !lines.some((l) => l.some((v) => v !== null)));
  }
  function onHello(d) {
    $("engine").textContent = d.engine;
    state.models = d.models || [];
    (d.history || []).forEach((ev) => handle(ev, true));
    counters(d.metrics);
    banner();
  }
  function onMetrics(d) {
    counters(d);
    if (d.point) addPoint(d.point);
    render(); banner();
  }

  function showSnapshot(s) {
    state.snapshot = s;
    $("snapshot").textContent = `version ${s.version} · ${s.events} events · taken ${s.created_at ? when(s.created_at) : "?"}` +
      (s.tags && s.tags.length ? ` · tags ${s.tags.join(", ")}` : "");
    $("rollback").disabled = false;
    $("rollback").textContent = `roll back to version ${s.version}`;
  }

  function logEvent(type, d, ts) {
    const li = el("li", type);
    const what = type === "drift_alert" || type === "drift_end" ? alarmText(type, d)
      : type === "slice_alarm" ? `${d.model} ${d.slice}: ${fmt(d.value)} vs overall ${fmt(d.overall)} (margin ${fmt(d.margin)}) at event ${d.event}`
      : type === "calibration_alarm" ? `${d.model}: ECE ${fmt(d.ece)} over ${fmt(d.threshold)} at event ${d.event}`
      : type === "rollback" ? `to version ${d.version}${d.reason ? " (" + d.reason + ")" : ""}`
      : type === "snapshot" ? `version ${d.version}` : JSON.stringify(d).slice(0, 160);
    li.textContent = `${when(ts)} ${type}: ${what}`;
    const log = $("events-log"); log.prepend(li);
    while (log.children.length > 50) log.lastChild.remove();
  }

  function onPrediction(p) {
    const tr = el("tr");
    const y = p.y_pred === null || p.y_pred === undefined ? "–" : JSON.stringify(p.y_pred);
    [p.id, p.key, p.model, y, p.fallback ? "yes" : ""].forEach((v) => {
      tr.append(el("td", "", v === null || v === undefined ? "" : String(v)));
    });
    const body = $("predictions"); body.prepend(tr);
    while (body.children.length > 10) body.lastChild.remove();
    $("predictions-empty").hidden = true;
  }

  function handle(ev, replayed) {
    const d = ev.data || {};
    switch (ev.type) {
      case "hello": return onHello(d);
      case "history": loadHistory(d); render(); return banner();
      case "metrics": return onMetrics(d);
      case "prediction": return onPrediction(d);
      case "drift_alert":
      case "drift_end":
        if (!replayed) onDriftRecord(ev.type, d, ev.ts);  // a replayed one is in the history's episodes
        state.alarms.unshift({ ts: ev.ts, type: ev.type, d: d }); state.alarms = state.alarms.slice(0, 5);
        logEvent(ev.type, d, ev.ts);
        if (!replayed) { render(); banner(); }
        return undefined;
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
    ws.onmessage = (m) => {
      let ev; try { ev = JSON.parse(m.data); } catch (e) { console.warn("bad feed message", e); return; }
      handle(ev, false);
    };
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

  $("metric-select").addEventListener("change", (e) => { state.metric = e.target.value; render(); });
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
