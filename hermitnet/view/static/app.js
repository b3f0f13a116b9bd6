// hermitnet live view: draws /topology once, then applies every snapshot from /events (SSE).
// Read-only: the page never sends anything to the run.
"use strict";

const TIER_COLOURS = ["#0072b2", "#009e73", "#e69f00", "#cc79a7", "#56b4e9", "#d55e00",
                      "#6c757d", "#8f5902"];
const DECISIONS = ["allow", "denied", "blocked", "spoofed"];
const DECISION_COLOURS = {allow: "#2e9e44", denied: "#e8590c", blocked: "#c92a2a",
                          spoofed: "#7048e8"};
const CHART_SECONDS = 120;

let cy = null;
let tierColour = {};
let previousCounters = null;
const chartData = [[], [], [], [], []];
let chart = null;
const viewErrors = [];  // what went wrong drawing a snapshot (shown in the header, read by tests)

function loadColour(load) {
  if (load === undefined || load < 0.01) return "#c4c4c4";
  if (load < 0.3) return "#2e9e44";
  if (load < 0.7) return "#e0a800";
  if (load < 0.9) return "#e8590c";
  return "#c92a2a";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "style") node.setAttribute("style", v); else node[k] = v;
  });
  children.forEach((c) => node.append(c));
  return node;
}

function formatCount(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (n >= 1e4) return (n / 1e3).toFixed(0) + " k";
  return String(n);
}

function drawTopology(topo) {
  document.getElementById("scenario").textContent = topo.scenario || "";
  topo.tiers.forEach((t, i) => { tierColour[t] = TIER_COLOURS[i % TIER_COLOURS.length]; });
  const legend = document.getElementById("legend-tiers");
  topo.tiers.forEach((t) => {
    legend.append(el("span", {className: "swatch", style: `background:${tierColour[t]}`}), t);
  });
  const elements = [];
  topo.nodes.forEach((n) => {
    elements.push({group: "nodes", data: {...n, colour: tierColour[n.tier] || "#adb5bd"},
                   position: {x: n.x, y: n.y}, classes: n.kind + " " + (n.role || "")
                   + (n.zone ? " zone-" + n.zone : "")});
  });
  topo.edges.forEach((e) => {
    elements.push({group: "edges", data: {...e, colour: "#c4c4c4", width: 3, label: ""},
                   classes: e.kind});
  });
  cy = cytoscape({
    container: document.getElementById("graph"),
    elements,
    layout: {name: "preset", padding: 30},
    autoungrabify: true,
    boxSelectionEnabled: false,
    style: [
      {selector: "node", style: {
        "label": "data(label)", "font-size": 21, "text-valign": "bottom", "text-margin-y": 4,
        "width": 34, "height": 34, "background-color": "data(colour)",
        "border-width": 2, "border-color": "#333", "color": "#1b1b1b",
        "text-background-color": "#fafafa", "text-background-opacity": 0.85,
        "text-background-padding": 1, "text-wrap": "wrap"}},
      {selector: "node.switch", style: {
        "shape": "round-rectangle", "width": 60, "height": 38, "background-color": "#dee2e6",
        "font-weight": "bold"}},
      {selector: "node.border", style: {"background-color": "#ffe066"}},
      {selector: "node.global", style: {"background-color": "#a5d8ff", "shape": "ellipse",
                                        "width": 76, "height": 50}},
      {selector: "node.foreign-ran, node.foreign-cell", style: {"background-color": "#ffc9c9"}},
      {selector: "node.foreign-cell", style: {"shape": "triangle", "width": 30, "height": 30}},
      {selector: "node.fixed", style: {"shape": "rectangle"}},
      {selector: "node.foreign-handset", style: {"shape": "star", "width": 32, "height": 32}},
      {selector: "node.server", style: {
        "shape": "diamond", "background-color": "#e9ecef", "text-valign": "center",
        "text-halign": "right", "text-margin-x": 6, "text-margin-y": 0}},
      {selector: "node.server.zone-global", style: {"background-color": "#a5d8ff"}},
      {selector: "node.server.zone-national", style: {"background-color": "#d3f9d8"}},
      {selector: "node.blocked", style: {"border-color": "#c92a2a", "border-width": 5,
                                         "color": "#c92a2a", "font-weight": "bold"}},
      {selector: "edge", style: {
        "line-color": "data(colour)", "width": "data(width)", "curve-style": "straight",
        "label": "data(label)", "font-size": 16, "color": "#333", "text-rotation": "autorotate",
        "text-background-color": "#fafafa", "text-background-opacity": 0.85}},
      {selector: "edge.uplink", style: {"font-size": 19, "font-weight": "bold"}},
      {selector: "edge.foreign-radio", style: {"line-style": "dotted", "line-color": "#e8590c"}},
      {selector: "edge.radio", style: {
        "line-style": "dashed", "line-color": "#7048e8", "width": 2,
        "curve-style": "unbundled-bezier", "control-point-distances": 40,
        "target-arrow-shape": "none"}},
    ],
  });
  cy.fit(undefined, 30);
  window.addEventListener("resize", () => cy.fit(undefined, 30));
}

function applyGraph(snap) {
  cy.batch(() => {
    cy.edges().not(".radio").forEach((edge) => {
      const rate = snap.links[edge.id()];
      if (!rate) return;
      const mbps = Math.max(rate.rx_mbps, rate.tx_mbps);
      edge.data("colour", loadColour(rate.load));
      edge.data("width", 3 + 9 * rate.load);
      const shown = edge.hasClass("uplink") || edge.hasClass("backhaul") || mbps >= 0.05;
      edge.data("label", shown ? mbps.toFixed(mbps < 10 ? 2 : 0) + " Mbit/s" : "");
    });
    cy.nodes().forEach((node) => {
      const tier = snap.membership[node.id()];
      if (tier) node.data("colour", tierColour[tier] || "#adb5bd");
    });
    const blocked = new Set(snap.blocklist.filter((b) => b.active).map((b) => b.site));
    cy.nodes(".server").forEach((node) => {
      node.toggleClass("blocked", blocked.has(node.id()));
      node.data("label", blocked.has(node.id()) ? node.id() + " ✕ blocked" : node.id());
    });
    cy.edges(".radio").remove();
    Object.entries(snap.radio).forEach(([phone, ue]) => {
      const node = cy.getElementById(phone);
      if (node.empty()) return;
      let target = null;
      if (ue.cell) target = ue.cell_kind === "foreign" ? "cell:" + ue.cell : "nb-" + ue.cell;
      const where = ue.cell ? `${ue.cell} ${ue.rate_mbps.toFixed(1)} Mbit/s` : "no service";
      node.data("label", `${phone}\n${where}`);
      if (target && !cy.getElementById(target).empty()) {
        cy.add({group: "edges", classes: "radio",
                data: {id: "radio:" + phone, source: phone, target, colour: "#7048e8",
                       width: 2, label: ""}});
      }
    });
  });
}

function applyPolicy(snap) {
  const list = document.getElementById("blocklist");
  list.replaceChildren();
  if (!snap.controller) list.append(el("li", {className: "none"}, "controller not answering"));
  else if (!snap.blocklist.length) list.append(el("li", {className: "none"}, "empty"));
  snap.blocklist.forEach((b) => {
    const when = b.tier ? `blocked for ${b.tier}` : "blocked";
    list.append(el("li", {className: b.active ? "active" : ""},
                   `${b.site}: ${when}${b.reason ? " – " + b.reason : ""}`));
  });
  const body = document.querySelector("#tiers tbody");
  body.replaceChildren();
  Object.entries(snap.tiers).forEach(([name, tier]) => {
    body.append(el("tr", {},
      el("td", {}, el("span", {className: "tier-dot",
                               style: `background:${tierColour[name] || "#adb5bd"}`}), name),
      el("td", {}, tier.zones.join(", ")),
      el("td", {}, tier.rate_mbps ? tier.rate_mbps + " Mbit/s" : "–"),
      el("td", {}, tier.members.join(", "))));
  });
}

function applyCounters(snap) {
  const body = document.querySelector("#counters tbody");
  body.replaceChildren();
  Object.entries(snap.counters).sort().forEach(([tier, counts]) => {
    const row = el("tr", {}, el("td", {}, el("span", {className: "tier-dot",
      style: `background:${tierColour[tier] || "#adb5bd"}`}), tier));
    DECISIONS.forEach((d) => {
      row.append(el("td", {className: d !== "allow" && counts[d] > 0 ? "hot" : ""},
                    formatCount(counts[d])));
    });
    body.append(row);
  });
  document.getElementById("counters-age").textContent =
    snap.counters_t_s === null ? "(no counters yet)" : `(controller t = ${snap.counters_t_s.toFixed(0)} s)`;
  const up = snap.uplink;
  const rate = cy ? Object.entries(snap.links).find(([id]) => cy.getElementById(id).hasClass("uplink")) : null;
  document.getElementById("uplink").textContent = `uplink: ${formatCount(up.tx_bytes)}B out, `
    + `${formatCount(up.rx_bytes)}B in` + (rate ? `, now ${Math.max(rate[1].rx_mbps, rate[1].tx_mbps).toFixed(2)} Mbit/s` : "");
  chartPoint(snap);
}

function chartPoint(snap) {
  if (snap.counters_t_s === null) return;
  const totals = {};
  DECISIONS.forEach((d) => {
    totals[d] = Object.values(snap.counters).reduce((sum, c) => sum + (c[d] || 0), 0);
  });
  const current = {t: snap.counters_t_s, totals};
  if (previousCounters && current.t > previousCounters.t) {
    const dt = current.t - previousCounters.t;
    chartData[0].push(snap.t_s);
    DECISIONS.forEach((d, i) => {
      chartData[i + 1].push(Math.max(0, totals[d] - previousCounters.totals[d]) / dt);
    });
    while (chartData[0].length && chartData[0][0] < snap.t_s - CHART_SECONDS) {
      chartData.forEach((series) => series.shift());
    }
    if (!chart) makeChart();
    chart.setData(chartData);
  }
  if (!previousCounters || current.t !== previousCounters.t) previousCounters = current;
}

function makeChart() {
  const box = document.getElementById("chart");
  chart = new uPlot({
    width: box.clientWidth || 460, height: 150, legend: {live: false},
    title: "packets/s by decision (all tiers)",
    scales: {x: {time: false}},
    axes: [{label: "t (s)", font: "13px sans-serif"}, {font: "13px sans-serif", size: 55}],
    series: [{label: "t"}, ...DECISIONS.map((d) => ({label: d, stroke: DECISION_COLOURS[d],
                                                     width: 2}))],
  }, chartData, box);
}

function applyLeakage(snap) {
  const leak = snap.leakage;
  document.getElementById("leakage-source").textContent = "(" + leak.source + ")";
  const box = document.getElementById("leakage");
  box.replaceChildren();
  const paths = Object.entries(leak.by_path || {});
  if (!paths.length) box.append("not read yet");
  paths.forEach(([path, bytes]) => {
    box.append(el("span", {className: "path" + (bytes > 0 ? " bad" : "")},
                  `${path}: ${formatCount(bytes)}B`));
  });
  const list = document.getElementById("leak-events");
  list.replaceChildren();
  leak.events.slice().reverse().forEach((e) => {
    list.append(el("li", {}, `t=${e.t_s} s ${e.sender} (${e.tier}) → ${e.site}: `
                   + `${formatCount(e.bytes)}B via ${e.path}${e.kind !== "traffic" ? " [" + e.kind + "]" : ""}`));
  });
}

function apply(snap) {
  document.getElementById("clock").textContent = `t = ${snap.t_s.toFixed(0)} s since network up`;
  document.getElementById("phase").textContent = snap.phase;
  applyGraph(snap);
  applyPolicy(snap);
  applyCounters(snap);
  applyLeakage(snap);
}

function setStatus(text, kind) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = "status " + kind;
}

fetch("/topology").then((r) => r.json()).then((topo) => {
  drawTopology(topo);
  const events = new EventSource("/events");
  events.onmessage = (message) => {
    try {
      apply(JSON.parse(message.data));
      setStatus("live", "live");
    } catch (error) {
      viewErrors.push(String(error));
      setStatus("page error: " + error, "down");
    }
  };
  events.addEventListener("end", () => { setStatus("run ended", "down"); events.close(); });
  events.onerror = () => setStatus("no connection (run ended?)", "down");
}).catch(() => setStatus("no connection", "down"));
