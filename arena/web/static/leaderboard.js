// The leaderboard: Elo with 95% intervals, the head-to-head heatmap, live throughput.
"use strict";
header("Leaderboard");

async function main() {
  const main = document.getElementById("main");
  const tournament = param("tournament");
  const condition = param("condition");
  const throughput = el("section", {id: "throughput"});
  const standings = el("section", {id: "standings"}, el("p", {class: "muted"}, "Loading…"));
  const h2h = el("section", {id: "head-to-head"});
  const picker = el("select", {id: "tournament-picker"}, el("option", {value: ""}, "every finished game"));
  picker.onchange = () => { location.search = picker.value ? "?tournament=" + encodeURIComponent(picker.value) : ""; };
  // One rating pool at a time (board size, rules, komi); default: the server's, the most played.
  const conditions = el("select", {id: "condition-picker"});
  conditions.onchange = () => {
    const query = new URLSearchParams(tournament ? {tournament} : {});
    query.set("condition", conditions.value);
    location.search = "?" + query;
  };
  main.replaceChildren(el("section", {}, el("label", {}, "Games: ", picker), " ",
                          el("label", {}, "Condition: ", conditions)), throughput, standings, h2h);
  throughputPanel(throughput);
  try {
    for (const t of await api("/tournaments")) {
      picker.append(el("option", {value: t.name, selected: t.name === tournament ? "" : null}, t.name));
    }
    const query = new URLSearchParams();
    if (tournament) query.set("tournament", tournament);
    if (condition) query.set("condition", condition);
    const board = await api("/ratings/leaderboard" + (query.size ? "?" + query : ""));
    conditionOptions(conditions, board);
    renderStandings(standings, board);
    renderHeadToHead(h2h, board);
  } catch (error) {
    showError(standings, error);
  }
  document.body.dataset.loaded = "leaderboard";
}

function renderStandings(target, board) {
  const players = board.players;
  if (!players.length) {
    target.replaceChildren(el("h2", {}, "Leaderboard"), el("p", {class: "muted"}, "No finished games yet."));
    return;
  }
  const lo = Math.min(...players.map((p) => p.ci95[0])), hi = Math.max(...players.map((p) => p.ci95[1]));
  const W = 240, X = (v) => 6 + (v - lo) / Math.max(hi - lo, 1) * (W - 12);
  // Dashed where the prior set part of the interval (a flagged player).
  const interval = (p) => el("svg:svg", {width: W, height: 14, class: "interval"},
    el("svg:line", {x1: X(p.ci95[0]), x2: X(p.ci95[1]), y1: 7, y2: 7, stroke: "#2f6fdf", "stroke-width": 2,
                    "stroke-dasharray": p.flag ? "4 3" : null}),
    el("svg:circle", {cx: X(p.elo), cy: 7, r: 4, fill: p.flag ? "#fff" : "#1d2330", stroke: "#1d2330"}));
  const colour = board.colour_advantage;
  target.replaceChildren(
    el("h2", {}, `Leaderboard — ${board.condition}, ${board.game_set.games} games`),
    table([
      ["#", (p) => players.indexOf(p) + 1, "num"],
      ["Player", (p) => el("a", {href: "/web/games?player=" + encodeURIComponent(p.name), class: "player"}, p.name)],
      ["", (p) => flagMark(p.flag, board.flag_legend), "flag-cell"],
      ["Elo", (p) => fmt.elo(p.elo), "num elo"],
      ["95% interval", (p) => fmt.interval(p.flag, p.ci95[0], p.ci95[1]), "num ci"],
      ["", interval],
      ["Games", (p) => p.games, "num"],
      ["W–L–D", (p) => `${p.wins}–${p.losses}–${p.draws}`, "num"],
      ["Score", (p) => fmt.pct(p.score), "num"],
      ...referenceColumns(board),
    ], players),
    flagLegend(board.flag_legend),
    el("p", {class: "muted"}, "Maximum-likelihood Elo (Bradley–Terry) with Hessian 95% intervals; " +
       (colour ? `first-move advantage ${fmt.elo(colour.elo)} Elo [${fmt.elo(colour.ci95[0])}, ${fmt.elo(colour.ci95[1])}].` : "")));
}

// The reference scale (server's reference ladder): Elo relative to its reference point and the
// equivalent strength on the ladder, e.g. "plays like gnugo at level 7.3 [6.1, 8.4]".
function referenceColumns(board) {
  const ref = board.reference;
  if (!ref) return [];
  return [
    [`Elo vs ${ref.reference_point}`, (p) => p.relative_elo
      ? `${fmt.elo(p.relative_elo.elo)} [${fmt.elo(p.relative_elo.ci95[0])}, ${fmt.elo(p.relative_elo.ci95[1])}]` : "–",
     "num relative"],
    [`Plays like (${ref.name})`, (p) => p.equivalent ? p.equivalent.text : "–", "equivalent"],
  ];
}

// Every pool with its games, the board's selected.
function conditionOptions(select, board) {
  select.replaceChildren(...board.conditions.map((c) => el("option",
    {value: c.condition, selected: c.condition === board.condition ? "" : null}, `${c.condition} (${c.games} games)`)));
}

function renderHeadToHead(target, board) {
  const names = board.players.map((p) => p.name);
  const cells = {};
  for (const r of board.head_to_head) {
    (cells[r.a] ??= {})[r.b] = {w: r.wins, l: r.losses, d: r.draws, score: r.score};
    (cells[r.b] ??= {})[r.a] = {w: r.losses, l: r.wins, d: r.draws, score: 1 - r.score};
  }
  target.replaceChildren(el("h2", {}, "Head-to-head (row player's score against the column player)"),
    names.length ? heatmap(names, cells) : el("p", {class: "muted"}, "No pairs yet."));
}

main();
