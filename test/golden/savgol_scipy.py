"""Golden Savitzky–Golay outputs from scipy.signal.savgol_filter (mode='interp', its default:
the edges are the window polynomial evaluated there), for test/data/preprocess-numeric.test.ts.

    python3 test/golden/savgol_scipy.py > test/golden/savgol-scipy.json

The input is generated the same way in the test (no random generator shared across languages).
"""
import json, math, sys
import numpy as np
import scipy
from scipy.signal import savgol_filter

n = 40
y = [math.sin(i / 3) + 0.25 * ((i * 7919) % 13) / 13 for i in range(n)]
h = 0.5
cases = []
for window, poly, deriv in [(9, 2, 0), (7, 3, 0), (5, 2, 1), (11, 4, 2)]:
    out = savgol_filter(np.array(y), window, poly, deriv=deriv, delta=h)
    cases.append({'window': window, 'polynomial': poly, 'derivative': deriv, 'delta': h, 'out': [float(v) for v in out]})
json.dump({'scipy': scipy.__version__, 'numpy': np.__version__, 'n': n,
           'input': 'y[i] = sin(i/3) + 0.25*((i*7919) % 13)/13, x[i] = 100 + 0.5*i', 'cases': cases}, sys.stdout, indent=1)
print()
