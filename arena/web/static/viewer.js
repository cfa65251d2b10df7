// The board viewer: the game's SGF replayed move by move (buttons, arrow keys, Home/End).
"use strict";
header("Games");

const GAME_ID = parseInt(location.pathname.split("/").pop(), 10);
let game = null, detail = null, current = 0;

async function main() {
  const main = document.getElementById("main");
  try {
    [detail, game] = await Promise.all([api(`/games/${GAME_ID}`), api(`/games/${GAME_ID}.sgf`).then(parseSgf)]);
  } catch (error) {
    showError(main, error);
    document.body.dataset.loaded = "viewer";
    return;
  }
  const s = detail.summary;
  const button = (id, text, to) => { const b = el("button", {id}, text); b.onclick = () => go(to()); return b; };
  main.replaceChildren(el("section", {},
    el("h2", {}, `Game #${s.id}: ${s.black} (Black) vs ${s.white} (White) — ${s.result}`),
    el("p", {class: "muted"}, `${s.tournament}, ${game.size}×${game.size}, komi ${(game.props.KM || ["?"])[0]}, ` +
       `${s.move_count} moves, ${fmt.duration(s.duration_s)}. `,
       el("a", {href: `/games/${s.id}.sgf`}, "SGF")),
    el("div", {class: "viewer"},
      el("div", {id: "board"}),
      el("div", {},
        el("div", {class: "controls"},
          button("first", "|◀", () => 0), button("prev", "◀", () => current - 1),
          button("next", "▶", () => current + 1), button("last", "▶|", () => game.moves.length)),
        el("p", {id: "status"}),
        el("div", {id: "move-stats"})))));
  document.addEventListener("keydown", (e) => {
    const to = {ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: game.moves.length}[e.key];
    if (to !== undefined) { e.preventDefault(); go(to); }
  });
  go(parseInt(param("move") || "0", 10));
  document.body.dataset.loaded = "viewer";
}

function go(n) {
  current = Math.max(0, Math.min(game.moves.length, n));
  const {board, last} = positionAfter(game, current);
  draw(board, last);
  const status = document.getElementById("status");
  const where = last ? (last.point ? sgfVertex(last.point, game.size) : "pass") : "";
  status.replaceChildren(
    el("span", {id: "move-number"}, `Move ${current} of ${game.moves.length}`),
    last ? ` (${last.color === "B" ? "Black" : "White"} ${where})` : "", el("br"),
    `Black stones ${board.count("B")}, White stones ${board.count("W")}; ` +
    `captured by Black ${board.captures.B}, by White ${board.captures.W}`);
  Object.assign(document.getElementById("board").dataset, {
    move: current, black: board.count("B"), white: board.count("W"),
    capturedByBlack: board.captures.B, capturedByWhite: board.captures.W});
  const stats = current > 0 ? detail.move_stats[current - 1] : null;
  document.getElementById("move-stats").replaceChildren(stats ? table(
    [["Visits", (m) => m.visits ?? "—", "num"], ["Root value", (m) => fmt.num(m.root_value, 3), "num"],
     ["Policy entropy", (m) => fmt.num(m.policy_entropy, 2), "num"], ["Time", (m) => fmt.num(m.time_s, 3) + " s", "num"]],
    [stats]) : "");
}

function sgfVertex([r, c], n) { return "ABCDEFGHJKLMNOPQRST"[c] + (n - r); }

function draw(board, last) {
  const n = board.size, cell = Math.min(36, Math.floor(540 / n)), m = cell;
  const size = m * 2 + cell * (n - 1);
  const svg = el("svg:svg", {width: size, height: size, id: "board-svg"},
    el("svg:rect", {x: 0, y: 0, width: size, height: size, fill: "#dcb35c"}));
  for (let i = 0; i < n; i++) {
    svg.append(el("svg:line", {x1: m, x2: m + cell * (n - 1), y1: m + i * cell, y2: m + i * cell, stroke: "#333"}),
               el("svg:line", {y1: m, y2: m + cell * (n - 1), x1: m + i * cell, x2: m + i * cell, stroke: "#333"}),
               el("svg:text", {x: m + i * cell, y: m / 2 + 2, "text-anchor": "middle"}, "ABCDEFGHJKLMNOPQRST"[i] || ""),
               el("svg:text", {x: m / 2 - 2, y: m + i * cell + 4, "text-anchor": "middle"}, n - i));
  }
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    const v = board.grid[r][c];
    if (v === null) continue;
    svg.append(el("svg:circle", {class: v === "B" ? "stone black" : "stone white", cx: m + c * cell, cy: m + r * cell,
                                 r: cell * 0.46, fill: v === "B" ? "#111" : "#f8f8f8", stroke: "#222"}));
  }
  if (last && last.point) {
    const [r, c] = last.point;
    svg.append(el("svg:circle", {cx: m + c * cell, cy: m + r * cell, r: cell * 0.18, fill: "none",
                                 stroke: last.color === "B" ? "#fff" : "#111", "stroke-width": 2}));
  }
  document.getElementById("board").replaceChildren(svg);
}

main();
