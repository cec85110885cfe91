"""Sphinx configuration: numpydoc API reference, MyST pages, a sphinx-gallery of examples, generated benchmark pages."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import skdigits  # noqa: E402

project = "skdigits"
author = "skdigits developers"
copyright = "2026, skdigits developers"
version = release = skdigits.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/README.txt"]
templates_path = ["_templates"]
myst_heading_anchors = 3

autosummary_generate = True
# The estimator's methods are listed by the class template; numpydoc's own member tables would repeat them.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# No internet at build time: links to other projects' docs are written out, not looked up.
intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"skdigits {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
}


def _benchmark_pages(app):
    """Generate the benchmark pages from benchmarks/results/*.json before the sources are read."""
    subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "pages.py"), "--output",
                    os.path.join(HERE, "benchmarks")], check=True)


def setup(app):
    app.connect("builder-inited", _benchmark_pages)
