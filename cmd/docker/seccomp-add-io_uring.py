#!/usr/bin/env python3
"""Add io_uring to a Docker seccomp profile: seccomp-add-io_uring.py [IN [OUT]].

Reads a profile (IN, or stdin), drops io_uring_setup, io_uring_enter and
io_uring_register from every rule that names them, and appends one rule
that allows exactly these three, unconditionally. Writes the result to OUT
(or stdout) with tab indentation. Everything else is kept as it is, so the
result is the input profile plus io_uring and nothing more. Running it on
its own output gives the same output.
"""
import json
import sys

IO_URING = ["io_uring_enter", "io_uring_register", "io_uring_setup"]
RULE = {
    "names": IO_URING,
    "action": "SCMP_ACT_ALLOW",
    "comment": "ringexecd runs everything on io_uring; Docker's default profile "
               "(since Docker 25) denies these three",
}


def add_io_uring(profile):
    rules = []
    for rule in profile.get("syscalls") or []:
        names = [n for n in rule.get("names", []) if n not in IO_URING]
        if not names and rule.get("names"):
            continue  # a rule about io_uring alone: replaced below
        rules.append(dict(rule, names=names) if "names" in rule else rule)
    rules.append(RULE)
    return dict(profile, syscalls=rules)


def main(argv):
    src = open(argv[1]) if len(argv) > 1 else sys.stdin
    profile = json.load(src)
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        sys.exit("seccomp-add-io_uring: not a seccomp profile (no defaultAction)")
    text = json.dumps(add_io_uring(profile), indent="\t") + "\n"
    if len(argv) > 2:
        with open(argv[2], "w") as out:
            out.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
