"""paired.py: the paired-difference summary the p4-margin table scripts share."""
import math


def summary(d):
    """Mean ± standard error of per-seed differences d (points), the seeds
    ahead, and each seed's difference."""
    n = len(d)
    m = sum(d) / n
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    return "%+.2f ± %.2f (%d/%d; %s)" % (m, se, sum(x > 0 for x in d), n,
                                          ", ".join("%+.2f" % x for x in d))
