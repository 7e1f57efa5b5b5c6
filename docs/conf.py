"""Sphinx settings of the course site (used by docs/build_site.py; not a page).

The sources are staged by docs/pages.py into a folder of their own (the committed notebooks,
README.md, INSTRUCTOR.md, REPRODUCTION.md, benchmarks/RESULTS.md, a page per exercise and the
start page); this file only says how to render them:

- myst-nb reads the notebooks and never executes them (``nb_execution_mode = "off"``): the
  site shows the committed outputs, warnings included (stderr is shown, not hidden);
- MathJax 3 is served from the site itself (sphinx-mathjax-offline copies it into
  ``_static/mathjax``): no page asks a CDN for anything, so the site reads offline;
- sphinx-book-theme gives the book layout: the lessons in course order in the sidebar,
  previous/next buttons, and Sphinx's own search (an index in ``searchindex.js``).
"""
from pathlib import Path

project = "MMoE from scratch"
author = "mmoe-np"
copyright = "mmoe-np authors, MIT licence"       # noqa: A001 (Sphinx's name)
html_title = "MMoE from scratch: the course"

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx-mathjax-offline"]

root_doc = "index"
exclude_patterns = ["_extra", "**/.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]   # lessons may skip a heading level; that is style, not a broken page

# --- notebooks: shown as committed, never run -------------------------------------------
nb_execution_mode = "off"
nb_output_stderr = "show"              # the site must not hide what a lesson printed on stderr
nb_merge_streams = True
nb_ipywidgets_js = {}                  # no widget scripts from a CDN (the notebooks hold no widget state)

# --- Markdown (MyST) ------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3               # GitHub-style #anchors for README.md's headings
myst_dmath_double_inline = True        # "$$...$$" inside a paragraph is display math, as on GitHub

# --- offline math: MathJax 3 from _static/mathjax (set by sphinx-mathjax-offline) ----------
mathjax3_config = {"options": {"menuOptions": {"settings": {"assistiveMml": True}}}}

# --- theme ----------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_favicon = "_static/favicon.svg"       # else every browser asks for /favicon.ico, a 404
html_context = {"default_mode": "auto"}     # light or dark as the reader's system says
html_last_updated_fmt = None
html_use_index = False                 # no empty "Index" page: the site has no API to index
html_show_sourcelink = False
html_show_search_summary = False     # summaries are fetched page by page, which a site opened from disk cannot do
html_copy_source = True                # the theme's download button offers each notebook (.ipynb)
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_source_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "navigation_with_keys": False,
    "search_bar_text": "Search the course...",
    "navbar_persistent": [],              # one search field, in the sidebar (not a second one in a top bar)
}


def _copy_raw_html_images(app, config):
    # README.md lays figures out with raw <img> tags, which Sphinx does not copy: the stage
    # puts those files in _extra/, which is copied as is to the site's root.
    extra = Path(app.srcdir) / "_extra"
    if extra.is_dir():
        config.html_extra_path = [*config.html_extra_path, str(extra)]


def setup(app):
    app.connect("config-inited", _copy_raw_html_images)
