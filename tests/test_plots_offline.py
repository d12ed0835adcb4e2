"""``dvc plots show`` draws every chart without internet: the page template named in
``.dvc/config`` (``vendor/vega/``) holds vega, vega-lite and vega-embed itself.

The browser test opens the page DVC writes for this project's plots in headless Chromium with
the network blocked. It needs Chromium (CI installs Debian's, ``apt-get install chromium``) and
fails without it; set ``MSCL_SKIP_BROWSER=1`` to skip it on a machine that has none.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo
from dvc_render.html import PAGE_HTML

from helpers import REPO, copy_project, project_env

VENDOR = REPO / "vendor" / "vega"
RELEASES = runpy.run_path(str(VENDOR / "build.py"))["RELEASES"]  # the pinned npm releases

# Put into the page under test, first thing in <head>: records script errors and failed loads.
RECORD_ERRORS = """<script>
window.probeErrors = [];
addEventListener("error", e => probeErrors.push(e.message || "could not load " + (e.target.src || e.target.href)), true);
addEventListener("unhandledrejection", e => probeErrors.push("rejected: " + e.reason));
</script>"""

# Last thing in <head>: waits for every vegaEmbed call to settle, then writes, for each <div id>
# of the page, how many saturated pixels its canvas holds (data lines are coloured; axes, text and
# background are grey), and the errors, into <pre id="probe"> for --dump-dom to print.
REPORT = """<script>
(function () {
  const embed = window.vegaEmbed, pending = [];
  if (typeof embed === "function") window.vegaEmbed = (...args) => { const p = embed(...args); pending.push(p); return p; };
  function coloured(div) {
    const c = div.querySelector("canvas");
    if (!c || !c.width || !c.height) return 0;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
    return n;
  }
  addEventListener("load", () => Promise.allSettled(pending).then(() => setTimeout(() => {
    const out = document.createElement("pre");
    out.id = "probe";
    const charts = Object.fromEntries([...document.querySelectorAll("div[id]")].map(d => [d.id, coloured(d)]));
    out.textContent = JSON.stringify({charts, errors: probeErrors});
    document.body.append(out);
  }, 500)));
})();
</script>"""

# Every request fails: names resolve nowhere, and all traffic (IP literals too) goes to a closed
# local port as its proxy.
NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
              "--proxy-bypass-list=<-loopback>"]


def test_template_holds_the_pinned_releases():
    with Repo(REPO) as repo:
        template = (REPO / ".dvc" / repo.config["plots"]["html_template"]).resolve()
    assert template == VENDOR / "dvc-plots.html"
    page = template.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert [hashlib.sha256(s.encode()).hexdigest() for s in scripts] == [r.sha256 for r in RELEASES]
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page  # no CDN tags from DVC
    for release in RELEASES:
        assert (VENDOR / f"{release.name}.LICENSE").read_text().startswith("Copyright (c)")


def chromium() -> str:
    """The Chromium executable; fails (skips when MSCL_SKIP_BROWSER=1) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("MSCL_SKIP_BROWSER") == "1":
        pytest.skip("no Chromium, and MSCL_SKIP_BROWSER=1")
    pytest.fail("Chromium is needed: apt-get install chromium (or set MSCL_SKIP_BROWSER=1 to skip)")


def plots_page(project: Path, out: str, *options: str) -> str:
    """``dvc plots show`` in ``project``; returns the page it wrote."""
    subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", out, *options], cwd=project,
                   env=project_env(), check=True, capture_output=True)
    return (project / out / "index.html").read_text(encoding="utf-8")


def drawn(browser: str, page: str, tmp_path: Path, name: str) -> tuple[dict, list]:
    """Open ``page`` in headless Chromium without network: ({div id: coloured pixels}, errors)."""
    head = page.index("<head>") + len("<head>")
    end = page.rindex("</head>")
    probed = tmp_path / f"{name}.html"
    probed.write_text(page[:head] + RECORD_ERRORS + page[head:end] + REPORT + page[end:], encoding="utf-8")
    # --no-sandbox: CI runs as root; --disable-dev-shm-usage: containers have a small /dev/shm
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / name}-profile", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", *NO_NETWORK, "--virtual-time-budget=30000", "--dump-dom", probed.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the page never finished: {dom[-2000:]}"
    report = json.loads(html.unescape(found.group(1)))
    return report["charts"], report["errors"]


@pytest.mark.slow
def test_every_chart_draws_without_network(tmp_path):
    browser = chromium()
    project = tmp_path / "project"
    project.mkdir()
    copy_project(project)  # what a clone has: the dvclive curves are tracked, pipeline outputs are not
    page = plots_page(project, "plots")
    charts = re.findall(r"vegaEmbed\('#(\w+)'", page)
    # one chart per curve file under the top-level plots of dvc.yaml and each evaluation set's
    # fine-tuning curves (the finetune@<d> stages' plots)
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    evaluated = yaml.safe_load((REPO / "params.yaml").read_text())["evaluation"]["datasets"]
    dirs = [next(iter(p)) if isinstance(p, dict) else p for p in plots]
    dirs += [f"dvclive/{d}/finetune/plots/metrics" for d in evaluated]
    assert len(charts) == sum(len(list((project / d).rglob("*.tsv"))) for d in dirs) > 0
    ink, errors = drawn(browser, page, tmp_path, "offline")
    assert errors == []
    assert {c: ink[c] > 0 for c in charts} == {c: True for c in charts}, ink

    # DVC's own page, in the same browser: every chart stays blank, as on an offline machine
    (tmp_path / "stock.html").write_text(PAGE_HTML)
    stock = plots_page(project, "stock", "--html-template", str(tmp_path / "stock.html"))
    ink, errors = drawn(browser, stock, tmp_path, "stock")
    assert {c: ink[c] for c in charts} == {c: 0 for c in charts}
    assert any("could not load" in e for e in errors), errors
