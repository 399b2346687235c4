"""Time botocore's get_credentials() in-process, per credential source.

stdin: {"rounds": N, "base_env": {...}, "cases": {name: {"env": {...}, "key": expected access key id}}}
stdout: {"botocore": version, "python": version, "samples": {name: [seconds, ...]}}

Each round runs every case once, in a fresh random order, each in a new
botocore session (session creation is not timed: get_credentials() walks
the provider chain and fetches, which is what a program pays at start).
"""
import json
import os
import random
import sys
import time

import botocore
import botocore.session


def main():
    spec = json.load(sys.stdin)
    cases = spec["cases"]
    samples = {name: [] for name in cases}
    names = list(cases)
    for r in range(spec["warm"] + spec["rounds"]):
        random.shuffle(names)
        for name in names:
            case = cases[name]
            os.environ.clear()
            os.environ.update(spec["base_env"])
            os.environ.update(case["env"])
            session = botocore.session.Session()
            t0 = time.perf_counter()
            creds = session.get_credentials()
            frozen = creds.get_frozen_credentials() if creds else None
            t1 = time.perf_counter()
            if frozen is None or frozen.access_key != case["key"]:
                got = frozen.access_key[:4] if frozen else None
                sys.exit("case %s: wrong credentials (access key starts %r)" % (name, got))
            if r >= spec["warm"]:
                samples[name].append(t1 - t0)
    json.dump({"botocore": botocore.__version__, "python": sys.version.split()[0], "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
