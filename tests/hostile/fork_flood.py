# expect: zero flagged
# Start as many processes as possible and keep them.
import subprocess
started = []
for k in range(400):
    try:
        started.append(subprocess.Popen(["sleep", "{MARK}"]))
    except OSError as exc:
        print("refused after", len(started), type(exc).__name__)
        break
print("STARTED", len(started))
