// Recent games, newest first, with filters from the URL (player, tournament) and cursor paging.
"use strict";
header("Games");

async function main() {
  const main = document.getElementById("main");
  const list = el("section", {id: "games"}, el("p", {class: "muted"}, "Loading…"));
  main.replaceChildren(list);
  const query = new URLSearchParams();
  for (const key of ["player", "opponent", "tournament", "result", "cursor"]) {
    if (param(key)) query.set(key, param(key));
  }
  query.set("limit", "50");
  try {
    const page = await api("/games?" + query);
    const filters = ["player", "tournament", "result"].filter((k) => param(k)).map((k) => `${k} ${param(k)}`);
    const next = new URLSearchParams(location.search);
    if (page.next_cursor) next.set("cursor", page.next_cursor);
    list.replaceChildren(el("h2", {}, "Recent games" + (filters.length ? " — " + filters.join(", ") : "")),
      page.games.length ? table([
        ["Game", (g) => el("a", {href: `/web/games/${g.id}`, class: "view"}, `#${g.id}`)],
        ["Tournament", (g) => g.tournament], ["Black", (g) => g.black], ["White", (g) => g.white],
        ["Result", (g) => g.result], ["Moves", (g) => g.move_count, "num"],
        ["Duration", (g) => fmt.duration(g.duration_s), "num"], ["Finished", (g) => fmt.time(g.finished_at)],
        ["SGF", (g) => el("a", {href: `/games/${g.id}.sgf`}, "download")],
      ], page.games) : el("p", {class: "muted"}, "No finished games."),
      page.next_cursor ? el("p", {}, el("a", {href: "?" + next}, "Older games →")) : "");
  } catch (error) {
    showError(list, error);
  }
  document.body.dataset.loaded = "games";
}

main();
