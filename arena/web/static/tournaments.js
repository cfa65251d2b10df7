// Tournaments: progress of each (finished of scheduled, rate, ETA, verdict) and live throughput.
"use strict";
header("Tournaments");

async function main() {
  const main = document.getElementById("main");
  const throughput = el("section", {id: "throughput"});
  const list = el("section", {id: "tournaments"}, el("p", {class: "muted"}, "Loading…"));
  main.replaceChildren(throughput, list);
  throughputPanel(throughput);
  await refresh(list);
  document.body.dataset.loaded = "tournaments";
  setInterval(() => refresh(list), 10000);
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
      ["Forfeits", (d) => d.progress.forfeits, "num"],
      ["Games/hour", (d) => fmt.num(d.progress.games_per_hour, 0), "num"],
      ["ETA", (d) => fmt.duration(d.progress.eta_s), "num"],
      ["Verdict", (d) => (d.progress.verdict ? JSON.stringify(d.progress.verdict) : "—")],
      ["", (d) => el("a", {href: "/web/games?tournament=" + encodeURIComponent(d.progress.name)}, "games")],
    ], details) : el("p", {class: "muted"}, "No tournament yet."));
  } catch (error) {
    showError(target, error);
  }
}

main();
