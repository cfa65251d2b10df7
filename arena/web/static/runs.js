// Training runs: Elo against training step per run, and Elo against search visits per checkpoint.
"use strict";
header("Runs");

async function main() {
  const main = document.getElementById("main");
  const tournament = param("tournament"), condition = param("condition");
  const search = new URLSearchParams();
  if (tournament) search.set("tournament", tournament);
  if (condition) search.set("condition", condition);
  const query = search.size ? "?" + search : "";
  const steps = el("section", {id: "elo-vs-step"}, el("h2", {}, "Elo vs training step"));
  const visits = el("section", {id: "elo-vs-visits"}, el("h2", {}, "Elo vs visits"));
  // One rating pool at a time (board size, rules, komi); default: the server's, the most played.
  const conditions = el("select", {id: "condition-picker"});
  conditions.onchange = () => { search.set("condition", conditions.value); location.search = "?" + search; };
  main.replaceChildren(el("section", {}, el("label", {}, "Condition: ", conditions)), steps, visits);
  try {
    const runs = [...new Set((await api("/checkpoints")).map((c) => c.run_name).filter((r) => r))].sort();
    if (!runs.length) steps.append(el("p", {class: "muted"}, "No checkpoint belongs to a training run."));
    for (const run of runs) {
      const data = await api(`/ratings/runs/${encodeURIComponent(run)}/elo-vs-step${query}`);
      const byPlayerVisits = {};
      for (const p of data.points.filter((p) => p.training_step !== null)) {
        const visits = p.player.match(/@(\d+)v$/);
        const key = visits ? `${visits[1]} visits` : "players";
        (byPlayerVisits[key] ??= []).push({x: p.training_step, y: p.elo, lo: p.lo, hi: p.hi, label: p.player,
                                           flag: p.flag, note: data.flag_legend?.[p.flag]});
      }
      const series = Object.entries(byPlayerVisits).map(([name, points]) => ({name, points}));
      steps.append(el("div", {class: "run", "data-run": run},
        el("h3", {}, `${run} (${data.points.length} rated players, ${data.game_set.games} games)`),
        data.points.length ? intervalChart(series, {xLabel: "training step"})
                           : el("p", {class: "muted"}, "No rated games of this run's checkpoints yet."),
        table([["Player", (p) => p.player], ["", (p) => flagMark(p.flag, data.flag_legend), "flag-cell"],
               ["Step", (p) => p.training_step ?? "—", "num"], ["Elo", (p) => fmt.elo(p.elo), "num elo"],
               ["95% interval", (p) => fmt.interval(p.flag, p.lo, p.hi), "num"],
               ["Games", (p) => p.games, "num"]], data.points),
        flagLegend(data.flag_legend)));
    }
    const pool = await api("/ratings/elo-vs-visits" + query);
    conditions.replaceChildren(...pool.conditions.map((c) => el("option",
      {value: c.condition, selected: c.condition === pool.condition ? "" : null}, `${c.condition} (${c.games} games)`)));
    const curves = pool.visits_curves;
    const series = Object.entries(curves).map(([checkpoint, points]) => ({
      name: checkpoint, points: points.map((p) => ({x: p.visits, y: p.elo, lo: p.ci95[0], hi: p.ci95[1], label: p.player,
                                                    flag: p.flag, note: pool.flag_legend?.[p.flag]})),
    }));
    visits.append(series.length ? intervalChart(series, {xLabel: "visits per move (log scale)", logX: true})
                                : el("p", {class: "muted"}, "No checkpoint has played at two visit counts (a visits-ladder tournament)."));
  } catch (error) {
    showError(steps, error);
  }
  document.body.dataset.loaded = "runs";
}

main();
