"""Sphinx configuration of relustep's documentation site.

Build it (offline) from the top of the repository with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages are generated here from the package itself, one page per module, so that every
docstring's ``Notes`` derivation is on the site; the tutorials are copied from ``tutorials/`` and
executed at the small size during the build. MathJax comes from a local copy shipped in a Python
package (``django-static-mathjax``), so no page loads anything from the network.
"""

import importlib
import os
import pkgutil
import shutil
import sys
from pathlib import Path

import mathjax  # the django-static-mathjax package: MathJax 3's files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
# The notebooks' kernels inherit this: figures become images in the page (Agg would drop them).
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
os.environ["RELUSTEP_TUTORIAL_SIZE"] = os.environ.get("RELUSTEP_DOCS_TUTORIAL_SIZE", "small")

import relustep  # noqa: E402

project = "relustep"
author = "the relustep authors"
copyright = "relustep authors, BSD-3-Clause"  # noqa: A001
release = relustep.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_theme_options = {
    "description": "ReLU networks with learning steps derived analytically",
    "page_width": "1180px",  # room for the notebooks' code cells
}
html_static_path = ["_static"]
html_show_sphinx = False  # no footer links to the tools

# -- mathematics: MathJax 3 from the local package, SVG output (no web fonts to fetch) ------------
MATHJAX_SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"
(HERE / "_static").mkdir(exist_ok=True)
shutil.copyfile(MATHJAX_SOURCE, HERE / "_static" / "tex-svg-full.js")
mathjax_path = "tex-svg-full.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]]}, "options": {"enableMenu": False}}

# -- API reference: numpydoc sections read by napoleon ---------------------------------------------
# Each object is documented once, on the page of the module that defines it (``ignore-module-all``
# keeps a package's re-exports off its own page).
autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
    "ignore-module-all": True,
}
autodoc_member_order = "bysource"
# A numpydoc "Attributes" entry links its name to an object of that name; where two classes have
# an attribute of one name (``n_iter``, ``n_features``) Sphinx warns that the link is ambiguous.
# Those links are decoration, so that one kind of warning is off; every other warning fails.
suppress_warnings = ["ref.python"]
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_rtype = False

# -- tutorials: executed at the small size while the site is built ---------------------------------
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_ipywidgets_js = {}  # no widget scripts from the network
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]


def module_names() -> list[str]:
    """Every module of the package (but ``python -m relustep``'s entry point, which runs)."""
    names = ["relustep"]
    for info in pkgutil.walk_packages(relustep.__path__, "relustep."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


def write_api_pages() -> None:
    """One page per module under ``api/`` (rebuilt each time, not kept in git)."""
    folder = HERE / "api"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    names = module_names()
    for name in names:
        importlib.import_module(name)
        title = f"``{name}``"
        (folder / f"{name}.rst").write_text(
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n"
        )
    entries = "\n".join(f"   {name}" for name in names)
    (folder / "index.rst").write_text(
        "API reference\n=============\n\n"
        "Every module of relustep, with its docstrings: the derivations are in the ``Notes`` "
        "sections, rendered as mathematics.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{entries}\n"
    )


def copy_tutorials() -> None:
    """The notebooks of ``tutorials/`` into ``tutorials/`` here (not kept in git)."""
    folder = HERE / "tutorials"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for notebook in sorted((ROOT / "tutorials").glob("*.ipynb")):
        shutil.copyfile(notebook, folder / notebook.name)
    (folder / "index.rst").write_text(
        "Tutorials\n=========\n\n"
        "A short course, in this order; each notebook derives a method next to the code that "
        "computes it. The pages show the notebooks run at the small size "
        "(``RELUSTEP_TUTORIAL_SIZE=small``) while this site was built.\n\n"
        ".. toctree::\n   :maxdepth: 1\n   :glob:\n\n   0*\n"
    )


write_api_pages()
copy_tutorials()
