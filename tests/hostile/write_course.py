# expect: zero flagged
# Change how later submissions are graded: the sources, the config, the installed packages.
import os, numpy, rnnkit
targets = ["{COURSE}/solutions/01_rnn_vs_cnn/01_rnn_vs_cnn.ipynb", "{COURSE}/nbgrader_config.py",
           rnnkit.__file__, numpy.__file__, os.path.join(os.path.dirname(rnnkit.__file__), "checks.py")]
for target in targets:
    try:
        with open(target, "a") as fh:
            fh.write("\n# tampered\n")
        print("WROTE", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
