"""What every notebook builder shares: the two cell makers and writing the notebook.

from nbbuild import code, md, write
cells = [md("# ..."), code("lab = Lab.up()"), ...]
write(cells, "labs/NN-name.ipynb")      # or the path given as the first argument
"""

import sys

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def write(cells: list, default_path: str) -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else default_path
    nbf.write(nbf.v4.new_notebook(cells=cells, metadata=METADATA), out)
