"""Turn the source notebooks in ``solutions/`` into the book's pages in ``book/``.

    python -m rnnkit.bookprep          # run from the repo root; `make book` does it

For each chapter, the page is the source notebook with:

* hidden tests removed (they decide grades, so readers never see them);
* every solution cell folded behind a "Show solution" toggle;
* each run of code cells tagged ``tab-numpy``, ``tab-pytorch``, ``tab-tensorflow`` shown as
  one tab set (sphinx-design, ``sync-group: framework``: choosing a framework in one tab set
  switches every tab set on the page); the cells still execute, their outputs follow;
* a link to download the learner's exercise notebook from ``chapters/``.

It also copies MathJax from the installed ``django-static-mathjax`` package into
``_static/mathjax`` so the built HTML renders math without a CDN. Files are only rewritten
when their content changes, so an unchanged rebuild re-executes nothing.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat

from . import notebook

TABS = {"tab-numpy": ("NumPy", "numpy"), "tab-pytorch": ("PyTorch", "pytorch"),
        "tab-tensorflow": ("TensorFlow", "tensorflow")}


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _tab_key(cell):
    return next((t for t in _tags(cell) if t in TABS), None)


def _tab_set(cells) -> nbformat.NotebookNode:
    """One markdown cell holding a synchronised tab set with each cell's source."""
    parts = ["::::{tab-set}", ":sync-group: framework", ""]
    for cell in cells:
        label, key = TABS[_tab_key(cell)]
        parts += [f":::{{tab-item}} {label}", f":sync: {key}", "", "```python",
                  cell.source.rstrip(), "```", ":::", ""]
    parts.append("::::")
    # A stable id (not a random one), so an unchanged chapter gives a byte-identical page.
    return nbformat.v4.new_markdown_cell("\n".join(parts), id=f"tabs-{cells[0].get('id', 'x')}")


def page(nb: nbformat.NotebookNode, slug: str) -> nbformat.NotebookNode:
    """The book page for one chapter's source notebook (a new notebook; ``nb`` is untouched)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells, i = [], 0
    while i < len(nb.cells):
        cell = nb.cells[i]
        if _tab_key(cell):
            group = []
            while i < len(nb.cells) and _tab_key(nb.cells[i]):
                group.append(nb.cells[i])
                i += 1
            cells.append(_tab_set(group))
            for c in group:  # executed where they stand; the tab set shows their code
                c.metadata["tags"] = _tags(c) + ["remove-input"]
                cells.append(c)
            continue
        if notebook.is_test_cell(cell):
            cell.source = notebook.strip_hidden_tests(cell.source).rstrip()
        if cell.cell_type == "code" and notebook.is_solution_cell(cell):
            cell.source = notebook.solution_body(cell.source)
            cell.metadata["tags"] = _tags(cell) + ["hide-input"]
            cell.metadata["mystnb"] = {"code_prompt_show": "Show solution",
                                       "code_prompt_hide": "Hide solution"}
        cell.metadata.pop("nbgrader", None)
        cells.append(cell)
        i += 1
    link = nbformat.v4.new_markdown_cell(
        f"```{{note}}\nPractise this chapter: {{download}}`download the exercise notebook "
        f"</chapters/{slug}/{slug}.ipynb>`, fill in the functions, then check your work with "
        f"`rnnkit check {slug}.ipynb`.\n```", id="download-exercise")
    first_heading = next((k for k, c in enumerate(cells) if c.cell_type == "markdown"), -1)
    cells.insert(first_heading + 1, link)
    nb.cells = cells
    return nb


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def copy_mathjax(root: Path) -> None:
    import mathjax  # the django-static-mathjax package: MathJax 3 as package data

    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    target = root / "_vendor" / "mathjax"  # not _static: Jupyter Book would <script> every .js in it
    if not (target / "tex-svg.js").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)


def main(root: Path = Path(".")) -> int:
    slugs = sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir())
    for slug in slugs:
        src = root / "solutions" / slug / f"{slug}.ipynb"
        text = nbformat.writes(page(notebook.read(src), slug)) + "\n"
        changed = _write_if_changed(root / "book" / f"{slug}.ipynb", text)
        print(f"book/{slug}.ipynb {'written' if changed else 'unchanged'}")
    copy_mathjax(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------- Sphinx extension
# _config.yml loads this module as a Sphinx extension too (sphinx.extra_extensions).


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Jupyter Book 1.0 registers some extensions' inline scripts twice (sphinx-thebe's
    ``const THEBE_JS_URL = ...`` among them), and a ``const`` declared twice is a JavaScript
    error in the reader's console. Keep the first copy of each script."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (str(getattr(script, "filename", script) or ""),  # None and "" both mean inline
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
