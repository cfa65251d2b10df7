// Shared by every dashboard page: the header, fetching the JSON API, number formatting, and small
// SVG charts (an interval plot and a heatmap). No libraries: everything here is drawn by hand.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function header(active) {
  const links = [["/web/", "Leaderboard"], ["/web/runs", "Runs"], ["/web/tournaments", "Tournaments"],
                 ["/web/games", "Games"]];
  const nav = el("nav", {}, ...links.map(([href, text]) =>
    el("a", {href, class: text === active ? "active" : null}, text)));
  document.body.prepend(el("header", {}, el("b", {}, "Go Arena"), nav));
}

// GET a JSON endpoint of this server; a token from local storage when reads need one.
async function api(path) {
  const headers = {};
  const token = localStorage.getItem("arena-token");
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, {headers});
  if (response.status === 401) {
    askToken();
    throw new Error("reads need a token (arena token create)");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${path}: ${response.status} ${JSON.stringify(body.detail ?? "")}`);
  }
  return response.headers.get("content-type")?.includes("json") ? response.json() : response.text();
}

function askToken() {
  if (document.getElementById("token-form")) return;
  const input = el("input", {type: "password", placeholder: "bearer token", size: 40});
  const form = el("form", {id: "token-form"}, "Reads need a token: ", input, el("button", {}, "Use"));
  form.onsubmit = (e) => { e.preventDefault(); localStorage.setItem("arena-token", input.value); location.reload(); };
  document.querySelector("main").prepend(el("section", {}, form));
}

function showError(target, error) {
  target.replaceChildren(el("p", {class: "error"}, String(error.message || error)));
}

const fmt = {
  elo: (x) => (x === null || x === undefined ? "—" : Math.round(x).toString()),
  num: (x, digits = 1) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits)),
  pct: (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(0) + "%"),
  duration: (s) => {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor(s % 3600 / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
  },
  time: (iso) => (iso ? new Date(iso).toLocaleString() : "—"),
  // A 95% interval; one-sided where the games bound only one end (the prior sets the other).
  // The anchor's (lo == hi) is fixed by definition: never one-sided.
  interval: (flag, lo, hi) => (lo < hi && flag === "unbeaten" ? `> ${fmt.elo(lo)}`
                               : lo < hi && flag === "winless" ? `< ${fmt.elo(hi)}` : `[${fmt.elo(lo)}, ${fmt.elo(hi)}]`),
};

// A player's estimability flag (arena.ratings.estimability) as a marker, its meaning on hover.
function flagMark(flag, legend) {
  return flag ? el("span", {class: "flag", "data-flag": flag, title: legend?.[flag] ?? flag}, flag) : "";
}

// One line per flag present: what it means for the numbers shown.
function flagLegend(legend) {
  const entries = Object.entries(legend || {});
  return entries.length ? el("ul", {class: "flag-legend muted"},
    ...entries.map(([flag, text]) => el("li", {}, el("b", {}, flag), ": " + text))) : "";
}

function param(name) { return new URLSearchParams(location.search).get(name); }

function table(columns, rows) {
  // columns: [label, (row) => value, "num"?]
  const head = el("tr", {}, ...columns.map(([label, , kind]) => el("th", {class: kind || null}, label)));
  const body = rows.map((row) => el("tr", {}, ...columns.map(([, get, kind]) => {
    const value = get(row);
    return el("td", {class: kind || null}, value instanceof Node ? value : String(value));
  })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

const PALETTE = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0b7285", "#c2255c", "#5f3dc4"];

// An interval plot: series [{name, points: [{x, y, lo, hi, label, flag?, note?}]}], x numeric (log scale if
// asked). A flagged point is hollow with a dashed interval: the prior set part of it (`note` says how).
function intervalChart(series, {xLabel = "", yLabel = "Elo", logX = false, width = 640, height = 300} = {}) {
  const pad = {l: 56, r: 140, t: 12, b: 40};
  const all = series.flatMap((s) => s.points);
  const svg = el("svg:svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "chart"});
  if (!all.length) return svg;
  const fx = (x) => (logX ? Math.log2(x) : x);
  let [x0, x1] = [Math.min(...all.map((p) => fx(p.x))), Math.max(...all.map((p) => fx(p.x)))];
  let [y0, y1] = [Math.min(...all.map((p) => p.lo)), Math.max(...all.map((p) => p.hi))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 50; y1 += 50; }
  const X = (x) => pad.l + (fx(x) - x0) / (x1 - x0) * (width - pad.l - pad.r);
  const Y = (y) => height - pad.b - (y - y0) / (y1 - y0) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    svg.append(el("svg:line", {class: "grid", x1: pad.l, x2: width - pad.r, y1: Y(y), y2: Y(y)}),
               el("svg:text", {x: pad.l - 6, y: Y(y) + 4, "text-anchor": "end"}, Math.round(y)));
  }
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  for (const x of xs) svg.append(el("svg:text", {x: X(x), y: height - pad.b + 16, "text-anchor": "middle"}, x));
  svg.append(el("svg:line", {class: "axis", x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b}),
             el("svg:line", {class: "axis", x1: pad.l, x2: pad.l, y1: pad.t, y2: height - pad.b}),
             el("svg:text", {x: (pad.l + width - pad.r) / 2, y: height - 6, "text-anchor": "middle"}, xLabel),
             el("svg:text", {x: 12, y: pad.t + 8}, yLabel));
  series.forEach((s, k) => {
    const colour = PALETTE[k % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    svg.append(el("svg:polyline", {fill: "none", stroke: colour, "stroke-width": 2,
                                   points: pts.map((p) => `${X(p.x)},${Y(p.y)}`).join(" ")}));
    for (const p of pts) {
      const g = el("svg:g", {class: "point", "data-series": s.name, "data-x": p.x, "data-elo": p.y.toFixed(1),
                             "data-flag": p.flag || null},
        el("svg:line", {x1: X(p.x), x2: X(p.x), y1: Y(p.lo), y2: Y(p.hi), stroke: colour, "stroke-width": 1.5,
                        "stroke-dasharray": p.flag ? "3 3" : null}),
        el("svg:circle", {cx: X(p.x), cy: Y(p.y), r: 4, fill: p.flag ? "#fff" : colour, stroke: colour}),
        el("svg:title", {}, `${p.label || s.name}: ${Math.round(p.y)} ${fmt.interval(p.flag, p.lo, p.hi)}` +
                            (p.flag ? ` (${p.flag}: ${p.note || ""})` : "")));
      svg.append(g);
    }
    svg.append(el("svg:text", {x: width - pad.r + 10, y: pad.t + 14 + 16 * k, fill: colour}, s.name));
  });
  return svg;
}

// Head-to-head heatmap: rows and columns in leaderboard order; a cell is the row player's score
// against the column player (1 all won, 0 all lost), coloured blue (won) to red (lost).
function heatmap(names, cells) {
  const size = 38, left = 150, top = 120;
  const n = names.length;
  const svg = el("svg:svg", {width: left + n * size + 10, height: top + n * size + 10, class: "heatmap"});
  names.forEach((name, i) => {
    svg.append(el("svg:text", {x: left - 6, y: top + i * size + size / 2 + 4, "text-anchor": "end"}, name));
    svg.append(el("svg:text", {transform: `translate(${left + i * size + size / 2 + 4},${top - 6}) rotate(-60)`}, name));
  });
  names.forEach((a, i) => names.forEach((b, j) => {
    const cell = cells[a]?.[b];
    const x = left + j * size, y = top + i * size;
    if (i === j || !cell) {
      svg.append(el("svg:rect", {x, y, width: size - 2, height: size - 2, fill: i === j ? "#ddd" : "#f3f3f3"}));
      return;
    }
    const s = cell.score;  // 0..1
    const colour = `rgb(${Math.round(220 - 170 * s + 30 * (1 - s))},${Math.round(90 + 100 * (1 - Math.abs(s - 0.5) * 2))},${Math.round(60 + 170 * s)})`;
    svg.append(el("svg:g", {class: "cell", "data-row": a, "data-col": b, "data-score": s.toFixed(3)},
      el("svg:rect", {x, y, width: size - 2, height: size - 2, fill: colour}),
      el("svg:text", {class: "count", x: x + size / 2 - 1, y: y + size / 2 + 4, "text-anchor": "middle"}, `${cell.w}-${cell.l}`),
      el("svg:title", {}, `${a} vs ${b}: ${cell.w} won, ${cell.l} lost, ${cell.d} drawn`)));
  }));
  return svg;
}

// Live throughput cards, refreshed every 10 s.
function throughputPanel(target) {
  async function refresh() {
    try {
      const t = await api("/stats/throughput?minutes=10");
      const db = t.database, proc = t.this_process;
      const card = (id, value, label) => el("div", {class: "card", id},
        el("div", {class: "value"}, value), el("div", {class: "label"}, label));
      target.replaceChildren(el("h2", {}, "Throughput (last 10 minutes)"), el("div", {class: "cards"},
        card("games-per-minute", fmt.num(db.games_per_minute, 2), "games per minute"),
        card("moves-per-minute", fmt.num(db.moves_per_minute, 1), "moves per minute"),
        card("playouts-per-second", fmt.num(db.playouts_per_second, 1),
             "playouts (search visits) per second, from stored move statistics"),
        card("evaluations", proc ? proc.evaluations : "—",
             proc ? "network evaluations by this server's own workers" : "evaluations: on the workers' /metrics"),
        card("mean-batch", proc ? fmt.num(proc.mean_batch, 2) : "—",
             proc ? "mean evaluator batch (this server's workers)" : "mean batch: on the workers' /metrics")),
        el("p", {class: "muted"}, `${db.games} games, ${db.moves} moves, ${db.playouts} playouts finished in the ` +
           `window; last game finished ${fmt.time(db.last_finished_at)}.`));
    } catch (error) {
      showError(target, error);
    }
  }
  refresh();
  setInterval(refresh, 10000);
}
