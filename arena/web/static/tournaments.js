// Tournaments: progress of each (finished of scheduled, failed, rate, ETA, verdict), failed games and
// why, the workers and whether each is alive, and live throughput.
"use strict";
header("Tournaments");

async function main() {
  const main = document.getElementById("main");
  const throughput = el("section", {id: "throughput"});
  const list = el("section", {id: "tournaments"}, el("p", {class: "muted"}, "Loading…"));
  const workers = el("section", {id: "workers"});
  main.replaceChildren(throughput, list, workers);
  throughputPanel(throughput);
  await Promise.all([refresh(list), refreshWorkers(workers)]);
  document.body.dataset.loaded = "tournaments";
  setInterval(() => { refresh(list); refreshWorkers(workers); }, 10000);
}

async function refresh(target) {
  try {
    const tournaments = await api("/tournaments");
    const details = await Promise.all(tournaments.map((t) => api("/tournaments/" + t.id)));
    const bar = (p) => el("div", {class: "bar", title: `${p.finished} of ${p.scheduled}`},
      el("div", {style: `width: ${p.scheduled ? 100 * p.finished / p.scheduled : 0}%`}));
    target.replaceChildren(el("h2", {}, "Tournaments"), tournaments.length ? table([
      ["Name", (d) => el("a", {href: "/web/?tournament=" + encodeURIComponent(d.progress.name)}, d.progress.name)],
      ["Format", (d) => d.progress.format], ["Status", (d) => d.progress.status],
      ["Progress", (d) => bar(d.progress)],
      ["Finished", (d) => `${d.progress.finished} / ${d.progress.scheduled}`, "num progress"],
      ["Failed", (d) => d.progress.failed, "num failed"],
      ["Forfeits", (d) => d.progress.forfeits, "num"],
      ["Games/hour", (d) => fmt.num(d.progress.games_per_hour, 0), "num"],
      ["ETA", (d) => fmt.duration(d.progress.eta_s), "num"],
      // Refereed games ended by passes whose settled winner differs from strict Tromp-Taylor's.
      ["Scoring disagrees", (d) => scoringCell(d.progress.scoring), "num scoring"],
      ["Verdict", (d) => (d.progress.verdict ? JSON.stringify(d.progress.verdict) : "—")],
      ["", (d) => el("a", {href: "/web/games?tournament=" + encodeURIComponent(d.progress.name)}, "games")],
    ], details) : el("p", {class: "muted"}, "No tournament yet."));
    // Games given up on after their attempts (their workers kept dying), and why.
    const failed = details.flatMap((d) => (d.failed_games || []).map((f) => ({...f, tournament: d.progress.name})));
    if (failed.length) {
      target.append(el("h3", {}, "Failed games"), table([
        ["Tournament", (f) => f.tournament], ["Game", (f) => f.scheduled_game_id, "num"],
        ["Pairing", (f) => f.pairing], ["Attempts", (f) => f.attempts, "num"],
        ["Failed at", (f) => fmt.time(f.failed_at)], ["Reason", (f) => f.reason, "reason"],
      ], failed));
    }
  } catch (error) {
    showError(target, error);
  }
}

function scoringCell(scoring) {
  if (!scoring || scoring.rate === null || scoring.rate === undefined) return "—";
  return el("span", {title: `${scoring.disagreements} of ${scoring.refereed} refereed games ` +
    `(${scoring.pass_ended} ended by passes)`}, `${scoring.disagreements} / ${scoring.refereed} ` +
    `(${fmt.pct(scoring.rate)})`);
}

async function refreshWorkers(target) {
  try {
    const workers = await api("/workers");
    target.replaceChildren(el("h2", {}, "Workers"), workers.length ? table([
      ["Worker", (w) => w.worker], ["Alive", (w) => (w.alive ? "yes" : "no"), "alive"],
      ["Last heartbeat", (w) => fmt.time(w.last_heartbeat_at)], ["Blocks", (w) => w.blocks_in_hand, "num"],
      ["Games in hand", (w) => w.games_in_hand, "num"], ["Games stored", (w) => w.games_stored, "num"],
    ], workers) : el("p", {class: "muted"}, "No worker has reported yet."));
  } catch (error) {
    showError(target, error);
  }
}

main();
