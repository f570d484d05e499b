# expect: not-graded: did not stop when interrupted
# Ignore the interrupt that ends a cell past its time, leave a child, and sleep past every limit.
import signal, subprocess, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
subprocess.Popen(["sleep", "{MARK}"])
while True:
    time.sleep(1000)
