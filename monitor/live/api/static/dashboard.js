// fatigue-monitor dashboard: sensor list, live charts (uPlot), alerts.
//
// History comes from the REST routes when a sensor first appears; live points and events
// come over WS /api/live. Time axes are wall-clock Unix seconds, so sensors with different
// clocks line up. docs/api.md describes every route and message used here.
"use strict";
(function () {
  const MAX_POINTS = 3000;
  const MAX_ALERTS = 300;
  const COLORS = ["#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"];
  const CHARTS = {
    emg: [
      // activeOnly: a rest window's MDF is the noise floor's (~200 Hz), not the muscle's.
      { key: "mdf_hz", title: "MDF (Hz)", band: true, activeOnly: true },
      { key: "rms", title: "RMS" },
    ],
    acc: [
      { key: "tremor_rms", title: "tremor RMS (m/s\u00b2)" },
      { key: "tremor_peak_hz", title: "tremor peak frequency (Hz)" },
    ],
  };
  const MARKS = {
    fatigue_onset: "#c62828", fatigue_recovered: "#2e8b57",
    tremor_onset: "#e07b00", tremor_recovered: "#2e8b57",
    signal_lost: "#8a8f98", signal_restored: "#8a8f98",
  };

  const params = new URLSearchParams(location.search);
  const token = params.get("token") || sessionStorage.getItem("fm-token") || "";
  if (token) sessionStorage.setItem("fm-token", token);

  const sensors = new Map(); // id -> {summary, li, card, badge, streams: Map(modality -> stream)}
  const $ = (id) => document.getElementById(id);

  function api(path) {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    return fetch(path, { headers }).then((r) => {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // -- sensor list ------------------------------------------------------------------
  function upsertSensor(summary) {
    let s = sensors.get(summary.id);
    if (!s) {
      const list = $("sensors");
      const empty = list.querySelector(".empty");
      if (empty) empty.remove();
      const li = el("li", { "data-sensor": summary.id });
      li.append(el("span", { class: "name" }, summary.id));
      const badge = el("span", { class: "badge status" });
      li.append(badge);
      li.addEventListener("click", () => s.card.scrollIntoView({ behavior: "smooth" }));
      const items = [...list.children].filter((x) => x.dataset.sensor > summary.id);
      list.insertBefore(li, items[0] || null);
      const card = el("article", { class: "card", id: "card-" + summary.id, "data-sensor": summary.id });
      const h = el("h3");
      h.append(el("span", {}, summary.id));
      const cardBadge = el("span", { class: "badge status" });
      h.append(cardBadge);
      card.append(h);
      const charts = $("charts");
      const cards = [...charts.children].filter((x) => x.dataset.sensor > summary.id);
      charts.insertBefore(card, cards[0] || null);
      s = { summary, li, card, badges: [badge, cardBadge], streams: new Map(), marks: [] };
      sensors.set(summary.id, s);
      loadSensor(s);
    }
    s.summary = summary;
    for (const b of s.badges) {
      b.textContent = summary.status;
      b.className = "badge status " + summary.status;
    }
    s.li.dataset.status = summary.status;
    $("sensor-count").textContent = "(" + sensors.size + ")";
  }

  function refreshSensors() {
    return api("/api/sensors")
      .then((list) => list.forEach(upsertSensor))
      .catch((err) => setConn("error", err.message));
  }

  function loadSensor(s) {
    const id = encodeURIComponent(s.summary.id);
    Promise.all([api("/api/sensors/" + id + "/features?limit=5000"), api("/api/sensors/" + id)])
      .then(([rows, detail]) => {
        const byTime = new Map();
        for (const r of rows) {
          const k = r.modality + "|" + r.wall;
          if (!byTime.has(k)) byTime.set(k, { sensor: s.summary.id, modality: r.modality, wall: r.wall, channels: {} });
          byTime.get(k).channels[r.channel] = r.features;
        }
        for (const f of byTime.values()) addFrame(f, false);
        applyDetail(s, detail);
        redraw(s);
      })
      .catch((err) => console.warn(err));
  }

  function refreshDetail(s) {
    api("/api/sensors/" + encodeURIComponent(s.summary.id))
      .then((d) => { applyDetail(s, d); redraw(s); })
      .catch((err) => console.warn(err));
  }

  function applyDetail(s, detail) {
    for (const ch of detail.channels) {
      const st = stream(s, ch.modality, [ch.name]);
      st.bands[ch.name] = ch.mdf_band_hz ? { lo: ch.mdf_band_hz[0], hi: ch.mdf_band_hz[1], base: ch.baseline.mdf_hz } : null;
      const note = st.note;
      const parts = Object.entries(st.bands).filter(([, b]) => b)
        .map(([n, b]) => n + " baseline " + b.base.toFixed(1) + " Hz");
      note.textContent = ch.modality === "emg"
        ? (parts.length ? parts.join(", ") + " (band: \u00b1 min_drop)" : "learning baseline\u2026")
        : "";
    }
  }

  // -- charts -------------------------------------------------------------------------
  function stream(s, modality, channels) {
    let st = s.streams.get(modality);
    if (!st) {
      const box = el("div", { class: "stream", "data-modality": modality });
      const note = el("div", { class: "baseline" });
      box.append(note);
      s.card.append(box);
      st = { modality, channels: [], xs: [], ys: {}, plots: [], box, note, bands: {} };
      for (const c of CHARTS[modality]) st.ys[c.key] = {};
      s.streams.set(modality, st);
    }
    let added = false;
    for (const ch of channels) {
      if (!st.channels.includes(ch)) {
        st.channels.push(ch);
        for (const c of CHARTS[modality]) st.ys[c.key][ch] = st.xs.map(() => null);
        added = true;
      }
    }
    if (added) buildPlots(s, st);
    return st;
  }

  function bandPlugin(st, s) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          if (u.fmBand) {
            st.channels.forEach((ch, i) => {
              const b = st.bands[ch];
              if (!b) return;
              const y1 = u.valToPos(b.hi, "y", true);
              const y0 = u.valToPos(b.lo, "y", true);
              ctx.fillStyle = COLORS[i % COLORS.length] + "22";
              ctx.fillRect(left, Math.min(y0, y1), width, Math.abs(y0 - y1));
              ctx.strokeStyle = COLORS[i % COLORS.length] + "88";
              ctx.setLineDash([4, 4]);
              const yb = u.valToPos(b.base, "y", true);
              ctx.beginPath(); ctx.moveTo(left, yb); ctx.lineTo(left + width, yb); ctx.stroke();
            });
          }
          ctx.setLineDash([]);
          let lastLabel = -Infinity;
          for (const m of s.marks) {
            if (m.modality !== st.modality) continue;
            const x = u.valToPos(m.x, "x", true);
            if (x < left || x > left + width) continue;
            ctx.strokeStyle = MARKS[m.event] || "#000";
            ctx.lineWidth = 2;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = (11 * devicePixelRatio) + "px system-ui";
            if (x - lastLabel > 90 * devicePixelRatio) {  // close marks share one label
              ctx.fillText(m.event.replace("_", " "), x + 4, top + 12 * devicePixelRatio);
              lastLabel = x;
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  function buildPlots(s, st) {
    for (const p of st.plots) { p.plot.destroy(); p.div.remove(); }
    st.plots = [];
    for (const c of CHARTS[st.modality]) {
      const div = el("div", { class: "plot", "data-feature": c.key, "data-points": "0" });
      st.box.append(div);
      const series = [{}].concat(st.channels.map((ch, i) => ({
        label: ch, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true,
        points: { show: false },
      })));
      const plot = new uPlot({
        title: c.title,
        width: Math.max(300, div.clientWidth || 460),
        height: 170,
        scales: { x: { time: true } },
        series,
        legend: { show: true, live: false },
        plugins: [bandPlugin(st, s)],
      }, [st.xs].concat(st.channels.map((ch) => st.ys[c.key][ch])), div);
      plot.fmBand = !!c.band;
      st.plots.push({ key: c.key, plot, div });
    }
  }

  function addFrame(frame, draw) {
    const s = sensors.get(frame.sensor);
    if (!s || !CHARTS[frame.modality]) return;
    const st = stream(s, frame.modality, Object.keys(frame.channels));
    const x = frame.wall;
    if (st.xs.length && x <= st.xs[st.xs.length - 1]) return;
    st.xs.push(x);
    for (const c of CHARTS[frame.modality]) {
      for (const ch of st.channels) {
        const row = frame.channels[ch];
        const rest = c.activeOnly && row && (row.active === false || (row.quality && row.quality !== "ok"));
        const v = row && !rest ? row[c.key] : null;
        st.ys[c.key][ch].push(v === undefined ? null : v);
      }
    }
    if (st.xs.length > MAX_POINTS) {
      const cut = st.xs.length - MAX_POINTS;
      st.xs.splice(0, cut);
      for (const c of CHARTS[frame.modality]) for (const ch of st.channels) st.ys[c.key][ch].splice(0, cut);
    }
    if (draw) redraw(s, st);
  }

  function redraw(s, only) {
    for (const st of only ? [only] : s.streams.values()) {
      for (const p of st.plots) {
        p.plot.setData([st.xs].concat(st.channels.map((ch) => st.ys[p.key][ch])));
        p.div.dataset.points = String(st.xs.length);
      }
    }
  }

  // -- alerts ---------------------------------------------------------------------------
  // A burst (a broker outage: one signal_lost per channel of every sensor) arrives as one
  // "events" message of thousands; only the newest MAX_ALERTS reach the list, each sensor's
  // charts are redrawn once, and the API refreshes are debounced (scheduleRefresh).
  const seenAlerts = new Set();
  function addAlerts(events) {
    const list = $("alerts");
    const fresh = events.filter((e) => !seenAlerts.has(e.id));
    if (!fresh.length) return;
    const touched = new Set();
    for (const e of fresh) {
      seenAlerts.add(e.id);
      const s = sensors.get(e.sensor);
      if (s) {
        s.marks.push({ x: new Date(e.wall_time).getTime() / 1000, event: e.event, modality: e.modality });
        if (s.marks.length > MAX_POINTS) s.marks.splice(0, s.marks.length - MAX_POINTS);
        touched.add(s);
      }
    }
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const items = document.createDocumentFragment();
    for (const e of fresh.slice(-MAX_ALERTS).reverse()) {  // newest first
      const li = el("li", { "data-event": e.event, "data-sensor": e.sensor, "data-id": e.id });
      li.append(el("span", { class: "when" }, new Date(e.wall_time).toLocaleTimeString() + " "));
      li.append(el("span", { class: "kind" }, e.sensor + "/" + e.channel + " " + e.event.replace("_", " ")));
      li.append(el("div", { class: "message" }, e.message));
      items.append(li);
    }
    list.insertBefore(items, list.firstChild);
    while (list.children.length > MAX_ALERTS) list.lastChild.remove();
    for (const s of touched) redraw(s);
  }

  function loadAlerts() {
    return api("/api/alerts?limit=" + MAX_ALERTS).then(addAlerts);
  }

  // Statuses and baselines change with events: refresh them at most once per
  // REFRESH_DEBOUNCE_MS, however many events arrive, and only the sensors they concern.
  const REFRESH_DEBOUNCE_MS = 300;
  const pendingDetails = new Set();
  let refreshTimer = null;
  function scheduleRefresh(sensorIds) {
    for (const id of sensorIds) pendingDetails.add(id);
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      const ids = [...pendingDetails];
      pendingDetails.clear();
      refreshSensors();
      for (const id of ids) {
        const s = sensors.get(id);
        if (s) refreshDetail(s);
      }
    }, REFRESH_DEBOUNCE_MS);
  }

  // -- live -----------------------------------------------------------------------------
  function setConn(state, text) {
    const c = $("conn");
    c.dataset.state = state;
    c.textContent = text || state;
  }

  let backoff = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = token ? "?token=" + encodeURIComponent(token) : "";
    const ws = new WebSocket(proto + "//" + location.host + "/api/live" + q);
    ws.onopen = () => { backoff = 500; setConn("live"); };
    ws.onmessage = (msg) => {
      const m = JSON.parse(msg.data);
      if (m.type === "frames") {
        const unknown = m.frames.some((f) => !sensors.has(f.sensor));
        for (const f of m.frames) addFrame(f, true);
        if (unknown) scheduleRefresh([]);
      } else if (m.type === "events") {
        addAlerts(m.events);
        scheduleRefresh(new Set(m.events.map((e) => e.sensor)));
      }
    };
    ws.onclose = (ev) => {
      setConn("error", "disconnected (" + ev.code + "), retrying");
      setTimeout(() => { refreshSensors(); loadAlerts().catch(() => {}); connect(); }, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  // Baselines appear once learned: poll details of sensors still learning.
  function pollLearning() {
    for (const s of sensors.values()) {
      for (const st of s.streams.values()) {
        if (st.modality === "emg" && st.channels.some((ch) => !st.bands[ch])) { refreshDetail(s); break; }
      }
    }
  }

  window.addEventListener("resize", () => {
    for (const s of sensors.values()) for (const st of s.streams.values())
      for (const p of st.plots) p.plot.setSize({ width: Math.max(300, p.div.clientWidth), height: 170 });
  });

  setInterval(() => { $("clock").textContent = new Date().toLocaleTimeString(); }, 1000);
  setInterval(refreshSensors, 2000);
  setInterval(pollLearning, 5000);
  refreshSensors().then(() => loadAlerts()).catch((err) => setConn("error", err.message)).finally(connect);
})();
