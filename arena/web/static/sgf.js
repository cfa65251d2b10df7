// SGF reading and Go board replay for the viewer: the main line of the first game tree, and the
// capture rules of arena's board (search_workers.go.state): a move first removes the opponent's
// chains it leaves without liberties, then its own chain if that has none (suicide; only where the
// game's rules allowed it, which the arena checked before storing the game).
"use strict";

// {props: {SZ: ["9"], ...}, moves: [{color: "B"|"W", point: [row, col] | null}]}; null point = pass.
function parseSgf(text) {
  const nodes = [];
  let i = text.indexOf("(");
  let depth = 0;
  let node = null, ident = null;
  while (i < text.length) {
    const c = text[i];
    if (c === "(") { depth++; if (depth > 1) break; i++; }  // main line only: stop at the first variation
    else if (c === ")") { break; }
    else if (c === ";") { node = {}; nodes.push(node); ident = null; i++; }
    else if (c === "[") {
      let j = i + 1, value = "";
      while (j < text.length && text[j] !== "]") {
        if (text[j] === "\\") j++;
        value += text[j++];
      }
      (node[ident] ??= []).push(value);
      i = j + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (/[A-Za-z]/.test(text[j])) j++;
      ident = text.slice(i, j).replace(/[a-z]/g, "");
      i = j;
    } else i++;
  }
  const root = nodes[0] || {};
  const size = parseInt((root.SZ || ["19"])[0], 10);
  const point = (v) => {
    if (v === "" || (v === "tt" && size <= 19)) return null;
    return [v.charCodeAt(1) - 97, v.charCodeAt(0) - 97];
  };
  const moves = [];
  for (const n of nodes.slice(1)) {
    for (const color of ["B", "W"]) {
      if (n[color]) moves.push({color, point: point(n[color][0])});
    }
  }
  return {props: root, size, setup: {B: (root.AB || []).map(point), W: (root.AW || []).map(point)}, moves};
}

class Board {
  constructor(size) {
    this.size = size;
    this.grid = Array.from({length: size}, () => Array(size).fill(null));
    this.captures = {B: 0, W: 0};  // stones each colour has taken
  }

  neighbours([r, c]) {
    return [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]]
      .filter(([y, x]) => y >= 0 && x >= 0 && y < this.size && x < this.size);
  }

  // The chain containing point p and whether it has a liberty.
  chain(p) {
    const color = this.grid[p[0]][p[1]];
    const seen = new Set([p.join()]), stones = [p];
    let liberty = false;
    for (let k = 0; k < stones.length; k++) {
      for (const q of this.neighbours(stones[k])) {
        const v = this.grid[q[0]][q[1]];
        if (v === null) liberty = true;
        else if (v === color && !seen.has(q.join())) { seen.add(q.join()); stones.push(q); }
      }
    }
    return {stones, liberty};
  }

  play(color, p) {
    if (p === null) return [];
    if (this.grid[p[0]][p[1]] !== null) throw new Error(`point ${p} is occupied`);
    this.grid[p[0]][p[1]] = color;
    const opponent = color === "B" ? "W" : "B";
    let removed = [];
    for (const q of this.neighbours(p)) {
      if (this.grid[q[0]][q[1]] === opponent) {
        const chain = this.chain(q);
        if (!chain.liberty) removed = removed.concat(this.remove(chain.stones));
      }
    }
    this.captures[color] += removed.length;
    const own = this.chain(p);
    if (!own.liberty) this.captures[opponent] += this.remove(own.stones).length;  // suicide
    return removed;
  }

  remove(stones) {
    const out = [];
    for (const [r, c] of stones) {
      if (this.grid[r][c] !== null) { this.grid[r][c] = null; out.push([r, c]); }
    }
    return out;
  }

  count(color) { return this.grid.flat().filter((v) => v === color).length; }
}

// The board after the setup and the first n moves.
function positionAfter(game, n) {
  const board = new Board(game.size);
  for (const color of ["B", "W"]) for (const p of game.setup[color]) if (p) board.grid[p[0]][p[1]] = color;
  let last = null;
  for (const move of game.moves.slice(0, n)) { board.play(move.color, move.point); last = move; }
  return {board, last};
}
