"""Real write limits for tests: a file-size limit (RLIMIT_FSIZE) on a child process (tests/exec_with.py), and a
tiny tmpfs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from exec_with import exec_with


def dt_limited(args: list[str], limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m droptrack ARGS`: no file it writes may grow past `limit_bytes` (writes beyond fail with EFBIG)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(exec_with([sys.executable, "-B", "-m", "droptrack", *args], file_size=limit_bytes),
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, inodes: int | None = None) -> Iterator[Path]:
    """A `size` tmpfs (of at most `inodes` files and folders, its root one of them) mounted on `folder` (made here),
    unmounted after; skips the test where mounting is impossible (not root, or a container that may not mount)."""
    folder.mkdir()
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes is not None else "")
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                                                        str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


# machine: (AUDIT_ARCH_*, seccomp, fallocate, the write calls: write, pwrite64, writev, pwritev, pwritev2)
SECCOMP_ABI = {"x86_64": (0xC000003E, 317, 285, (1, 18, 20, 296, 328)),
               "aarch64": (0xC00000B7, 277, 47, (64, 68, 66, 70, 287))}


def refuse_writes(fd: int, err: int) -> bool:
    """From now on every write to `fd` and every fallocate of this process (all its threads, for good) fail with
    `err`, as a used-up disk quota (EDQUOT) makes them fail, without root, quota tools or a file system with quotas
    (a seccomp filter); False where such a filter cannot be installed (not Linux, another CPU, seccomp refused)."""
    import ctypes
    import platform
    import struct

    abi = SECCOMP_ABI.get(platform.machine())
    if abi is None or not sys.platform.startswith("linux"):
        return False
    audit, nr_seccomp, nr_fallocate, writes = abi
    load, jeq, ret, allow, deny = 0x20, 0x15, 0x06, 0x7FFF0000, 0x00050000 | err   # BPF_LD|W|ABS, JMP|JEQ|K, RET|K
    n = len(writes)
    prog = [(load, 0, 0, 4),                          # 0: seccomp_data.arch
            (jeq, 0, 6 + n, audit),                   # 1: another ABI: allow
            (load, 0, 0, 0),                          # 2: the call's number
            (jeq, 3 + n, 0, nr_fallocate),            # 3: fallocate: refuse
            *((jeq, n - i, 0, nr) for i, nr in enumerate(writes)),   # 4..: a write: check its fd
            (ret, 0, 0, allow),                       # 4+n: anything else
            (load, 0, 0, 16),                         # 5+n: args[0], low half (little-endian)
            (jeq, 0, 1, fd),                          # 6+n
            (ret, 0, 0, deny),                        # 7+n
            (ret, 0, 0, allow)]                       # 8+n
    code = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    fprog = Fprog(len(prog), ctypes.addressof(buf))
    if libc.prctl(38, 1, 0, 0, 0) != 0:   # PR_SET_NO_NEW_PRIVS: a filter without CAP_SYS_ADMIN needs it
        return False
    return libc.syscall(nr_seccomp, 1, 1, ctypes.byref(fprog)) == 0   # SET_MODE_FILTER, FLAG_TSYNC
