"""The web dashboard in real headless Chromium (Debian's `chromium` driven through `chromedriver`).

A real API (uvicorn, in a thread of this process) serves a fresh PostgreSQL database holding a
visits-ladder round-robin of two demo checkpoints, played through the real worker task. Each page
is loaded, waited on until its data is drawn, checked against the JSON API (names, Elo, heatmap
cells, progress, throughput) and screenshotted into test-artifacts/screenshots/. The board viewer
is stepped through a game with captures and its stone counts checked against our GameState.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from arena.ports import free_port
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.ci import unavailable

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        unavailable(f"missing {missing} (apt-get install -y chromium chromium-driver)")


@pytest.fixture(scope="module")
def played(engine, db_url, tmp_path_factory) -> dict:  # noqa: F811
    """A visits-ladder round-robin (s000250@4v, s002000@4v, s002000@16v), two games a pairing."""
    from arena.db.connection import session_scope
    from arena.db.repository import get_or_create_checkpoint
    from arena.scheduling import RoundRobinConfig
    from arena.tournaments import create_tournament, dispatch
    from arena.worker import DatabaseSink
    from models.demo import demo_manifests
    from models.manifest import read_manifest
    from search_workers import tasks

    store = tmp_path_factory.mktemp("store")
    names = {}
    for path in demo_manifests():
        manifest = read_manifest(path)
        if manifest.name.endswith(("s000250", "s002000")):
            folder = store / manifest.weights_sha256
            folder.mkdir(parents=True)
            shutil.copy(path, folder / path.name)
            shutil.copy(path.parent / manifest.weights_file, folder / manifest.weights_file)
            with session_scope(engine) as session:
                get_or_create_checkpoint(session, sha256=manifest.weights_sha256, name=manifest.name,
                                    manifest=manifest.model_dump(mode="json"), run_name=manifest.run_name,
                                    training_step=manifest.training_step)
            names[manifest.name[-7:]] = manifest.name
    participants = [{"name": f"{step}@{visits}v", "kind": "checkpoint", "ref": names[step], "visits": visits}
                    for step, visits in (("s000250", 4), ("s002000", 4), ("s002000", 16))]
    config = RoundRobinConfig(name="web-rr", format="round-robin", board_size=9, rules="chinese", move_limit=100,
                              games_per_pairing=2, participants=participants)
    payloads: list[dict] = []
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines={}).id
    with session_scope(engine) as session:
        dispatch(session, tid, send=payloads.append)
    sink = DatabaseSink(db_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=store, engines={}))
    try:
        for payload in payloads:
            tasks.play_block(payload)
    finally:
        sink.close()
    return {"tournament": "web-rr", "run": read_manifest(demo_manifests()[0]).run_name}


@pytest.fixture(scope="module")
def base_url(played, db_url, tmp_path_factory) -> str:  # noqa: F811
    import uvicorn

    from arena.api import create_app
    from arena.settings import Settings

    data = tmp_path_factory.mktemp("api")
    settings = Settings(database_url=db_url, data_dir=data, checkpoint_dir=data / "checkpoints")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, send=lambda payload: None), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def api(base_url: str, path: str):
    with urllib.request.urlopen(base_url + path, timeout=10) as response:
        body = response.read()
    return json.loads(body) if response.headers.get_content_type() == "application/json" else body.decode()


def js_round(x: float) -> int:
    """JavaScript's Math.round (halves up), which the pages use."""
    return math.floor(x + 0.5)


def load(browser, url: str, page: str):
    """Open `url` and wait until the page says it has drawn its data (body[data-loaded])."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == page)
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error")]
    assert not errors, errors
    return By


def screenshot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    print(f"screenshot: {path}")


def test_leaderboard_shows_the_apis_elo_intervals_and_head_to_head(base_url, browser) -> None:
    board = api(base_url, "/ratings/leaderboard")
    By = load(browser, base_url + "/", "leaderboard")
    rows = browser.find_elements(By.CSS_SELECTOR, "#standings tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "a.player").text for r in rows] == [p["name"] for p in board["players"]]
    assert len(board["players"]) == 3
    for row, player in zip(rows, board["players"]):
        assert row.find_element(By.CSS_SELECTOR, "td.elo").text == str(js_round(player["elo"]))
        lo, hi = player["ci95"]
        # One-sided where the games bound one end only (arena.ratings.estimability), with the flag as a marker.
        flag = player["flag"]
        expected = {"unbeaten": f"> {js_round(lo)}", "winless": f"< {js_round(hi)}"}.get(
            flag, f"[{js_round(lo)}, {js_round(hi)}]")
        assert row.find_element(By.CSS_SELECTOR, "td.ci").text == expected
        marks = row.find_elements(By.CSS_SELECTOR, "span.flag")
        assert [(m.text, m.get_attribute("title")) for m in marks] == (
            [(flag, board["flag_legend"][flag])] if flag else [])
    legend = browser.find_elements(By.CSS_SELECTOR, "#standings .flag-legend li")
    assert [li.text for li in legend] == [f"{flag}: {text}" for flag, text in board["flag_legend"].items()]
    cells = browser.find_elements(By.CSS_SELECTOR, "#head-to-head g.cell")
    assert len(cells) == 2 * len(board["head_to_head"]) == 6
    for record in board["head_to_head"]:
        cell = browser.find_element(By.CSS_SELECTOR, f'g.cell[data-row="{record["a"]}"][data-col="{record["b"]}"]')
        assert cell.find_element(By.CSS_SELECTOR, "text.count").text == f'{record["wins"]}-{record["losses"]}'
        assert float(cell.get_attribute("data-score")) == pytest.approx(record["score"], abs=1e-3)
    # One rating pool, named, chosen among the server's list (default: the most played).
    picker = browser.find_element(By.CSS_SELECTOR, "#condition-picker")
    assert board["condition"] and picker.get_attribute("value") == board["condition"]
    options = [o.get_attribute("value") for o in picker.find_elements(By.TAG_NAME, "option")]
    assert options == [c["condition"] for c in board["conditions"]]
    assert board["condition"] in browser.find_element(By.CSS_SELECTOR, "#standings h2").text
    screenshot(browser, "leaderboard")


def test_flagged_players_get_a_marker_a_legend_and_one_sided_intervals(base_url, browser) -> None:
    """The page's own renderers on a board with an unbeaten and a winless player (real games may have none)."""
    By = load(browser, base_url + "/", "leaderboard")
    legend = {"unbeaten": "only a lower bound", "winless": "only an upper bound"}
    row = {"games": 8, "wins": 0, "losses": 0, "draws": 0, "score": 0.5, "stderr": 100, "bootstrap_ci95": None}
    board = {"condition": "c", "game_set": {"games": 8}, "colour_advantage": None, "reference": None,
             "flag_legend": legend, "head_to_head": [], "conditions": [],
             "players": [dict(row, name="top", elo=300, ci95=[40.4, 700], flag="unbeaten"),
                         dict(row, name="mid", elo=0, ci95=[-90, 90], flag=None),
                         dict(row, name="low", elo=-300, ci95=[-700, -40.6], flag="winless")]}
    browser.execute_script("const t = document.createElement('section'); t.id = 'flag-test';"
                           "document.body.append(t); renderStandings(t, arguments[0]);"
                           "t.append(intervalChart([{name: 's', points: [{x: 1, y: 300, lo: 40, hi: 700, flag: "
                           "'unbeaten', note: 'why'}, {x: 2, y: 0, lo: -90, hi: 90}]}]));", board)
    rows = browser.find_elements(By.CSS_SELECTOR, "#flag-test tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td.ci").text for r in rows] == ["> 40", "[-90, 90]", "< -41"]
    marks = [[(m.text, m.get_attribute("title")) for m in r.find_elements(By.CSS_SELECTOR, "span.flag")] for r in rows]
    assert marks == [[("unbeaten", legend["unbeaten"])], [], [("winless", legend["winless"])]]
    assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#flag-test .flag-legend li")] == [
        f"{k}: {v}" for k, v in legend.items()]
    points = browser.find_elements(By.CSS_SELECTOR, "#flag-test g.point")
    assert [p.get_attribute("data-flag") for p in points] == ["unbeaten", None]
    assert points[0].find_element(By.CSS_SELECTOR, "line").get_attribute("stroke-dasharray") == "3 3"


def test_runs_page_draws_elo_vs_step_and_elo_vs_visits(base_url, browser, played) -> None:
    steps = api(base_url, f"/ratings/runs/{played['run']}/elo-vs-step")["points"]
    curves = api(base_url, "/ratings/elo-vs-visits")["visits_curves"]
    By = load(browser, base_url + "/web/runs", "runs")
    run = browser.find_element(By.CSS_SELECTOR, f'#elo-vs-step .run[data-run="{played["run"]}"]')
    drawn = {(g.get_attribute("data-x"), g.get_attribute("data-elo")) for g in run.find_elements(By.CSS_SELECTOR, "g.point")}
    assert drawn == {(str(p["training_step"]), f'{p["elo"]:.1f}') for p in steps} and len(steps) == 3
    flagged = {(g.get_attribute("data-x"), g.get_attribute("data-flag"))
               for g in run.find_elements(By.CSS_SELECTOR, "g.point")}
    assert flagged == {(str(p["training_step"]), p["flag"]) for p in steps}  # hollow, dashed: the prior's part
    assert list(curves) == ["s002000"]
    points = browser.find_elements(By.CSS_SELECTOR, '#elo-vs-visits g.point[data-series="s002000"]')
    assert sorted(int(g.get_attribute("data-x")) for g in points) == [4, 16]
    board = api(base_url, "/ratings/leaderboard")
    assert browser.find_element(By.CSS_SELECTOR, "#condition-picker").get_attribute("value") == board["condition"]
    screenshot(browser, "runs")


def test_tournaments_page_shows_progress_and_throughput(base_url, browser) -> None:
    By = load(browser, base_url + "/web/tournaments", "tournaments")
    assert browser.find_element(By.CSS_SELECTOR, "#tournaments td.progress").text == "6 / 6"
    assert "web-rr" in browser.find_element(By.ID, "tournaments").text
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "games-per-minute"))
    report = api(base_url, "/stats/throughput?minutes=10")
    assert report["database"]["games"] == 6 and report["database"]["playouts"] > 0
    value = lambda card: browser.find_element(By.CSS_SELECTOR, f"#{card} .value").text  # noqa: E731
    assert value("games-per-minute") == f'{report["database"]["games_per_minute"]:.2f}' == "0.60"
    assert value("moves-per-minute") == f'{report["database"]["moves_per_minute"]:.1f}'
    assert float(value("playouts-per-second")) == pytest.approx(report["database"]["playouts_per_second"], abs=0.05)
    # The blocks were played in this process, so its own evaluator metrics are real numbers.
    assert report["this_process"] is not None and report["this_process"]["mean_batch"] >= 1
    assert value("mean-batch") == f'{report["this_process"]["mean_batch"]:.2f}'
    screenshot(browser, "tournaments")


def test_games_page_lists_recent_games(base_url, browser) -> None:
    page = api(base_url, "/games")
    By = load(browser, base_url + "/web/games", "games")
    links = browser.find_elements(By.CSS_SELECTOR, "#games a.view")
    assert [a.text for a in links] == [f'#{g["id"]}' for g in page["games"]] and len(links) == 6
    screenshot(browser, "games")


def test_viewer_steps_through_a_game_with_captures_like_our_rules(base_url, browser) -> None:
    from search_workers.go.sgf import read_sgf
    from search_workers.go.state import Color

    games = api(base_url, "/games")["games"]
    records = {g["id"]: read_sgf(api(base_url, f'/games/{g["id"]}.sgf')) for g in games}

    def after(record, n):
        return dataclasses.replace(record, moves=record.moves[:n]).replay()

    def total_captures(state):
        return sum(state.captures.values())

    game_id = max(records, key=lambda i: total_captures(records[i].replay()))
    record = records[game_id]
    assert total_captures(record.replay()) > 0, "no game with a capture"
    # The first move that captures: step to just after it with the buttons.
    first = next(n for n in range(1, len(record.moves) + 1) if total_captures(after(record, n)) > 0)
    By = load(browser, base_url + f"/web/games/{game_id}", "viewer")
    board = browser.find_element(By.ID, "board")

    def check(n: int) -> None:
        state = after(record, n)
        stones = state.stones()
        assert board.get_attribute("data-move") == str(n)
        assert int(board.get_attribute("data-black")) == int((stones == 1).sum())
        assert int(board.get_attribute("data-white")) == int((stones == 2).sum())
        assert len(browser.find_elements(By.CSS_SELECTOR, "#board circle.stone")) == int((stones > 0).sum())
        assert int(board.get_attribute("data-captured-by-black")) == state.captures[Color.BLACK]
        assert int(board.get_attribute("data-captured-by-white")) == state.captures[Color.WHITE]

    check(0)
    for _ in range(first):
        browser.find_element(By.ID, "next").click()
    check(first)
    screenshot(browser, "viewer-first-capture")
    from selenium.webdriver.common.keys import Keys

    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.END)
    check(len(record.moves))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    check(len(record.moves) - 1)
    browser.find_element(By.ID, "last").click()
    check(len(record.moves))
    screenshot(browser, "viewer")
