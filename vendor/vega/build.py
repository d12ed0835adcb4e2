"""Write ``dvc-plots.html``: DVC's plots page with vega, vega-lite and vega-embed inlined.

``dvc plots show`` fills an HTML page with one vega-lite chart per plot. DVC's own page loads
the three libraries from a CDN, so on a machine without internet every chart stays blank.
``.dvc/config`` points DVC at this page instead (``plots.html_template``): the same page with
the libraries' released browser builds inside it, byte for byte, so the page DVC writes draws
anywhere, from any output folder, and can be copied elsewhere as one file.

The releases are the versions dvc-render 1.0.2 loads (``VegaRenderer.SCRIPTS``). Each comes
from its npm tarball (``npm pack``), checked against the registry's published sha512, and the
file taken from it against the sha256 below; its licence is copied beside the page. To move to
other versions, change ``RELEASES`` (new digests: ``npm view NAME@VERSION dist.integrity`` and
``sha256sum`` of the file) and run, from the repository root, with ``npm`` on PATH:

    python vendor/vega/build.py
"""
from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE / "dvc-plots.html"


@dataclass(frozen=True)
class Release:
    name: str       # npm package
    version: str
    file: str       # the browser build inside the tarball
    integrity: str  # the registry's sha512 of the tarball
    sha256: str     # of ``file``


# in load order: vega-lite and vega-embed use the globals the ones before them define
RELEASES = (
    Release("vega", "5.20.2", "package/build/vega.min.js",
            "sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
            "4794d0169cb1f3ebad8117fe98ba5bd652dd725905ec0384e832391dbccb03be"),
    Release("vega-lite", "5.2.0", "package/build/vega-lite.min.js",
            "sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
            "d73157451b3978015ab31dacd55ff90d986ab8663fc0abed50f97b3cd90002cb"),
    Release("vega-embed", "6.18.2", "package/build/vega-embed.min.js",
            "sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
            "1ba9826431ddc9805e815ad92acc811c819f2bfd32bda2a128b8c4b5070fab5e"),
)

# dvc-render's page (dvc_render/html.py) with two changes: a charset, since the builds hold
# non-ASCII text, and no scripts placeholder, where DVC would put its CDN <script src> tags
# (offline they would hold the page until the connection times out).
HEAD = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
    <!-- Written by vendor/vega/build.py: %s, as released on npm;
         licences in vendor/vega/. -->
"""
TAIL = """
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def sha512_integrity(data: bytes) -> str:
    """The npm registry's integrity string (``sha512-<base64>``) of ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def unpack(release: Release, workdir: Path) -> tuple[str, bytes]:
    """Fetch ``release`` with ``npm pack`` and check it; returns (its browser build, its LICENSE)."""
    spec = f"{release.name}@{release.version}"
    subprocess.run(["npm", "pack", spec, "--pack-destination", str(workdir), "--silent"],
                   check=True, stdout=subprocess.DEVNULL)
    tarball = (workdir / f"{release.name}-{release.version}.tgz").read_bytes()
    if sha512_integrity(tarball) != release.integrity:
        raise SystemExit(f"{spec}: the tarball's sha512 is not the one pinned in RELEASES")
    with tarfile.open(workdir / f"{release.name}-{release.version}.tgz") as tar:
        build = tar.extractfile(release.file).read()
        licence = tar.extractfile("package/LICENSE").read()
    if hashlib.sha256(build).hexdigest() != release.sha256:
        raise SystemExit(f"{spec}: {release.file} is not the file pinned in RELEASES")
    return build.decode("utf-8"), licence


def page(builds: list[str]) -> str:
    """The template: ``builds`` (in ``RELEASES`` order) each verbatim in its own <script>."""
    for build in builds:
        # the HTML parser would end the script early; DVC would fill a placeholder inside it
        assert "</script" not in build.lower() and "<!--" not in build
        assert not any("{%s}" % p in build for p in ("plot_divs", "scripts", "refresh_tag"))
    names = ", ".join(f"{r.name} {r.version}" for r in RELEASES)
    scripts = "".join(f"    <script>{build}</script>\n" for build in builds)
    return HEAD % names + scripts + TAIL


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = [unpack(r, Path(tmp)) for r in RELEASES]
    for release, (_, licence) in zip(RELEASES, unpacked):
        (HERE / f"{release.name}.LICENSE").write_bytes(licence)
    PAGE.write_text(page([build for build, _ in unpacked]), encoding="utf-8")
    print(f"wrote {PAGE.name} ({PAGE.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
