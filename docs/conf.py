"""Sphinx configuration of the debvader_euclid documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``):
every warning is an error. Pages ending in ``.md`` are MyST Markdown; the ones with
a ``kernelspec`` in their front matter are notebooks that myst-nb executes at build
time (tutorials, and the explanation pages whose tables come from the code).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import date
from pathlib import Path

import debvader_euclid

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# Quiet TensorFlow's C++ start-up messages in this process and in the notebook kernels
# (they inherit the environment); argparse help is wrapped at a fixed width so that the
# rendered ``--help`` texts do not depend on the terminal of whoever builds.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COLUMNS"] = "90"

# -- Project -------------------------------------------------------------------------
project = "debvader_euclid"
author = "the debvader_euclid authors"
copyright = f"{date.today().year}, {author}"
release = debvader_euclid.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", ".gitignore", "README.md"]
templates_path = []
default_role = "py:obj"
# Links within the docs only: the build must work offline (no intersphinx inventories).

# -- autodoc / autosummary / numpydoc -------------------------------------------------
# Types are in the numpydoc docstrings, so signatures stay short.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
# Methods without a docstring of their own stay undocumented rather than showing the
# docstring of a third-party base class (Keras) that is not written for this project.
autodoc_inherit_docstrings = False
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- MyST / myst-nb ------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_timeout = 180  # seconds per cell
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_output_stderr = "remove"  # TensorFlow and GalSim chatter; errors still fail the build
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown outputs (tables) rendered like the pages


def _source_digest() -> str:
    """SHA-256 (12 hex digits) of the package sources and shipped models the pages run."""
    digest = hashlib.sha256()
    paths = [
        path
        for package in ("debvader_euclid", "data_generation")
        for path in sorted((ROOT / package).rglob("*.py"))
    ]
    paths += sorted((ROOT / "trained_models").glob("*/SHA256SUMS"))
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# jupyter-cache keys on the code of the cells only: one cache per state of the package
# sources and of the shipped weights (their checksum files), so that editing the package
# or shipping a model re-executes every notebook page. Older caches are removed.
_cache_root = DOCS / "_build" / ".jupyter_cache"
nb_execution_cache_path = str(_cache_root / _source_digest())
if _cache_root.is_dir():
    for old in _cache_root.iterdir():
        if old.is_dir() and str(old) != nb_execution_cache_path:
            shutil.rmtree(old, ignore_errors=True)

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"debvader_euclid {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = True
