# expect: zero flagged
# Leave processes behind that outlive the kernel: a double fork into a new session.
import os, subprocess
subprocess.Popen(["sh", "-c", "setsid sleep {MARK} & sleep {MARK} &"], start_new_session=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "{MARK}"])
print("LEFT", pid)
