#!/usr/bin/env python3
"""unit_seccomp: cmd/docker/seccomp-io_uring.json and the script that makes it (TAP).

The profile is valid JSON in Docker's format and denies by default (EPERM);
the only names it allows beyond what Docker's default allows are the three
io_uring calls, allowed unconditionally; what Docker's default keeps
behind a capability or denies (mount, unshare, bpf, kexec_load, ...) it
does not allow outright; every name is a system call libseccomp knows on
one of the profile's architectures (no typos); and the script, run on the
profile, gives it back unchanged, and on another profile adds exactly the
three calls.
Usage: unit_seccomp.py PROFILE SCRIPT
"""
import ctypes
import json
import subprocess
import sys

IO_URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}
# Denied by Docker's default, or allowed there only with a capability.
NEVER_OUTRIGHT = {"mount", "umount2", "unshare", "setns", "bpf", "kexec_load", "kexec_file_load",
                  "init_module", "finit_module", "delete_module", "reboot", "ptrace", "clone3",
                  "keyctl", "add_key", "request_key", "userfaultfd", "perf_event_open",
                  "open_by_handle_at", "pivot_root", "swapon", "swapoff", "acct", "settimeofday",
                  "clock_settime", "iopl", "ioperm", "syslog", "chroot", "fsopen", "move_mount",
                  "sethostname", "personality", "socket"}
# AUDIT_ARCH values of the architectures the profile's archMap names.
ARCHES = [0xc000003e, 0x40000003, 0x4000003e, 0xc00000b7, 0x40000028, 0xc0000015, 0x80000016,
          0x16, 0xc00000f3, 0x80000008, 0xa0000008, 0x40000008, 0xe0000008, 0xc0000008,
          0x00000008]

results = []


def case(name, ok, diag=""):
    results.append((name, ok, diag))


def unconditional(profile):
    """Names allowed with no args, includes or excludes."""
    out = set()
    for rule in profile["syscalls"]:
        if rule.get("action") == "SCMP_ACT_ALLOW" and not any(
                rule.get(k) for k in ("args", "includes", "excludes")):
            out.update(rule["names"])
    return out


def check_format(profile):
    ok = (profile.get("defaultAction") == "SCMP_ACT_ERRNO" and profile.get("defaultErrnoRet") == 1
          and any(a.get("architecture") == "SCMP_ARCH_X86_64" for a in profile.get("archMap", []))
          and all(isinstance(r.get("names"), list) and r["names"] and
                  r.get("action", "").startswith("SCMP_ACT_") for r in profile["syscalls"]))
    case("valid JSON in Docker's format, default deny with EPERM", ok)


def check_io_uring(profile):
    allowed = unconditional(profile)
    rules = [r for r in profile["syscalls"] if IO_URING & set(r["names"])]
    ok = IO_URING <= allowed and len(rules) == 1 and set(rules[0]["names"]) == IO_URING
    case("io_uring_setup/enter/register allowed outright, in one rule of their own", ok,
         "rules naming them: %r" % rules)
    leaked = sorted(allowed & NEVER_OUTRIGHT)
    case("nothing Docker's default keeps behind a capability is allowed outright", not leaked,
         "allowed: %s" % leaked)


def check_names(profile):
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        case("every name is a system call # SKIP libseccomp.so.2 not found", True)
        return
    resolve = lib.seccomp_syscall_resolve_name_arch
    resolve.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    resolve.restype = ctypes.c_int
    unknown = sorted({n for r in profile["syscalls"] for n in r["names"]
                      if all(resolve(a, n.encode()) == -1 for a in ARCHES)})
    case("every name is a system call libseccomp knows", not unknown, "unknown: %s" % unknown)


def run_script(script, profile):
    out = subprocess.run([sys.executable, script], input=json.dumps(profile), text=True,
                         capture_output=True, check=True)
    return json.loads(out.stdout)


def check_script(script, path, profile):
    text = subprocess.run([sys.executable, script, path], capture_output=True, text=True,
                          check=True).stdout
    case("the script gives the profile back unchanged", text == open(path).read())
    base = {"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "io_uring_setup"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["io_uring_enter"], "action": "SCMP_ACT_ERRNO"}]}
    got = run_script(script, base)
    ok = (unconditional(got) == {"read"} | IO_URING and len(got["syscalls"]) == 2
          and got["syscalls"][0]["names"] == ["read"])
    case("on another profile it adds exactly the three calls", ok, json.dumps(got))


def main():
    path, script = sys.argv[1], sys.argv[2]
    profile = json.load(open(path))
    check_format(profile)
    check_io_uring(profile)
    check_names(profile)
    check_script(script, path, profile)
    print("1..%d" % len(results))
    for i, (name, ok, diag) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok and diag:
            print("# " + diag)
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
