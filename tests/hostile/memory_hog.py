# expect: not-graded: ran out of memory
# Take 6 GiB (written, so really resident).
import numpy as np
hog = np.ones((6 << 30) // 8)
print("ALLOCATED", hog.nbytes)
