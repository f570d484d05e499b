# expect: zero flagged
# Read outside its folder with a path no string literal gives away; only the audit hook can see it.
import os
try:
    open(os.sep.join(["", "work", "main", "nbgrader_config.py"])).read()
except OSError as exc:
    print("cannot read:", type(exc).__name__)
