"""The documentation site: it builds with warnings as errors, loads nothing from the network,
shows the tutorials with their outputs, and its mathematics renders in a browser.

The site is built once for this module (the tutorials run at the small size during the build).
"""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("sphinx", reason="the docs extra is not installed")
pytest.importorskip("myst_nb", reason="the docs extra is not installed")
pytest.importorskip("mathjax", reason="the docs extra (django-static-mathjax) is not installed")

# The README's docs command builds with these options.
BUILD_OPTIONS = ["-W", "--keep-going", "-b", "html"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REMOTE = re.compile(r"^\s*(https?:|//|ftp:)", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    output = tmp_path_factory.mktemp("docs") / "html"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", *BUILD_OPTIONS, "-q", "docs", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return output


class ResourceCollector(HTMLParser):
    """Every address a page makes the browser load: scripts, stylesheets, images, frames,
    media, objects, and ``url(...)`` in inline styles (plain links are not loads)."""

    LOADING = {
        "script": ("src",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "embed": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "track": ("src",),
        "object": ("data",),
        "input": ("src",),
    }

    def __init__(self):
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in self.LOADING.get(tag, ()):
            if attributes.get(name):
                self.addresses.append(attributes[name])
        if tag == "link" and attributes.get("href"):
            relations = (attributes.get("rel") or "").lower().split()
            if {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest"} & set(
                relations
            ):
                self.addresses.append(attributes["href"])
        self.addresses += re.findall(r"url\(\s*['\"]?([^'\")]+)", attributes.get("style") or "")

    def handle_data(self, data):
        if self.lasttag == "style":
            self.addresses += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.addresses += re.findall(r"@import\s+['\"]([^'\"]+)", data)


def remote_loads(site: Path) -> dict[str, list[str]]:
    found = {}
    for page in site.rglob("*.html"):
        collector = ResourceCollector()
        collector.feed(page.read_text(encoding="utf-8"))
        remote = [address for address in collector.addresses if REMOTE.match(address)]
        if remote:
            found[str(page.relative_to(site))] = remote
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        remote = [
            address
            for address in re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
            + re.findall(r"@import\s+(?:url\()?['\"]?([^'\");]+)", text)
            if REMOTE.match(address)
        ]
        if remote:
            found[str(sheet.relative_to(site))] = remote
    return found


def test_the_collector_sees_remote_loads(tmp_path):
    """The check below can fail: a page with remote resources is caught."""
    (tmp_path / "page.html").write_text(
        "<html><head><script src='https://cdn.example/x.js'></script>"
        "<link rel='stylesheet' href='//fonts.example/f.css'>"
        "<style>body{background:url(http://example/a.png)}</style></head>"
        "<body><a href='https://example.org'>a link loads nothing</a>"
        "<img src='local.png'></body></html>"
    )
    assert remote_loads(tmp_path) == {
        "page.html": [
            "https://cdn.example/x.js",
            "//fonts.example/f.css",
            "http://example/a.png",
        ]
    }


def test_no_page_loads_anything_remote(site):
    assert remote_loads(site) == {}
    api_page = (site / "api" / "relustep.models.rbm.html").read_text()
    assert re.search(r"<script[^>]+src=\"\.\./_static/tex-svg-full\.js", api_page)  # local MathJax


def test_every_module_has_its_page_with_its_derivation(site):
    import relustep.models.rbm
    import relustep.solvers.analytic
    import relustep.steps.golovko

    for module in (relustep.models.rbm, relustep.steps.golovko, relustep.solvers.analytic):
        page = (site / "api" / f"{module.__name__}.html").read_text()
        assert page.count('class="math') >= 3, module.__name__  # the Notes' formulas
    pages = {path.stem for path in (site / "api").glob("relustep*.html")}
    assert {"relustep", "relustep.optimize", "relustep.steps.lqa", "relustep.plot"} <= pages


def test_tutorials_are_rendered_with_their_outputs_and_plots(site):
    notebooks = sorted((ROOT / "tutorials").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        page = (site / "tutorials" / f"{notebook.stem}.html").read_text()
        assert "cell_output" in page, notebook.name
        assert re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', page), notebook.name


def test_each_paper_page_links_derivation_code_and_tutorial(site):
    for paper in ("golovko", "barbu", "qlabgrad", "lqa"):
        page = (site / "papers" / f"{paper}.html").read_text()
        assert 'href="../api/relustep.' in page, paper  # the derivation's page
        assert 'href="../_modules/relustep/' in page, paper  # the code
        assert 'href="../tutorials/0' in page, paper  # the tutorial
        for target in re.findall(r'href="(\.\./(?:_modules|tutorials)/[^"#]+)', page):
            assert (site / "papers" / target).resolve().is_file(), (paper, target)
    report = (site / "report.html").read_text()
    assert report.count('<img alt="') == 2


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (Debian package chromium)"
)
def test_mathematics_renders_in_headless_chromium(site, tmp_path):
    page = (site / "api" / "relustep.models.rbm.html").as_uri()
    common = [chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=20000"]
    dom = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    rendered = dom.count("<mjx-container")
    source = (site / "api" / "relustep.models.rbm.html").read_text()
    formulas = source.count('class="math')
    assert formulas >= 10
    assert rendered >= formulas, f"{rendered} formulas rendered of {formulas}"
    assert "<mjx-merror" not in dom and "data-mjx-error=" not in dom  # no TeX errors
    screenshot = tmp_path / "rbm-derivation.png"
    subprocess.run(
        [
            *common,
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            "--window-size=1200,1400",
            f"--screenshot={screenshot}",
            page,
        ],
        capture_output=True,
        timeout=300,
    )
    assert screenshot.stat().st_size > 50_000  # a page of drawn formulas, not a blank one
