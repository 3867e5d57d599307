#!/usr/bin/python3
"""scipy's answers for the statistics relage implements (tests/test_stats.c reads them):
Shapiro-Wilk W and p, Student's, Welch's and the paired t-test, on fixed samples of several
sizes. Run with Debian's python3-scipy:  /usr/bin/python3 tools/gen_stats_fixtures.py
Writes tests/fixtures/stats.json."""
import json
import os

import numpy as np
import scipy
from scipy import stats

rng = np.random.default_rng(7)
cases = []
for n in (3, 4, 5, 6, 7, 11, 12, 20, 50, 300, 1177):
    for kind in ("normal", "skewed"):
        x = rng.normal(6.0, 0.3, n) if kind == "normal" else rng.exponential(2.0, n)
        x = [round(float(v), 6) for v in x]
        w, p = stats.shapiro(x)
        cases.append({"kind": "shapiro", "x": x, "w": float(w), "p": float(p)})
for nx, ny in ((3, 3), (5, 7), (30, 25)):
    x = [round(float(v), 6) for v in rng.normal(5.95, 0.04, nx)]
    y = [round(float(v), 6) for v in rng.normal(5.99, 0.06, ny)]
    s = stats.ttest_ind(x, y, equal_var=True)
    wl = stats.ttest_ind(x, y, equal_var=False)
    cases.append({"kind": "ttest", "x": x, "y": y, "student_t": float(s.statistic),
                  "student_p": float(s.pvalue), "welch_t": float(wl.statistic),
                  "welch_p": float(wl.pvalue)})
    if nx == ny:
        pr = stats.ttest_rel(x, y)
        cases.append({"kind": "paired", "x": x, "y": y, "t": float(pr.statistic),
                      "p": float(pr.pvalue)})
x = [round(float(v), 6) for v in rng.normal(6.0, 4.0, 400)]
y = [round(float(v + d), 6) for v, d in zip(x, rng.normal(0.1, 0.5, 400))]
pr = stats.ttest_rel(x, y)
cases.append({"kind": "paired", "x": x, "y": y, "t": float(pr.statistic), "p": float(pr.pvalue)})
out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "stats.json")
with open(out, "w") as f:
    json.dump({"scipy": scipy.__version__, "cases": cases}, f)
print(out, len(cases), "cases")
