# expect: zero
# Flood the notebook with output (64 MB).
line = "x" * 1023
for _ in range(65536):
    print(line)
