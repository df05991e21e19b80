#!/usr/bin/env python3
"""mktree.py DIR COUNT SEED [--odd]: write COUNT small files of pseudo-random
bytes under DIR in nested directories (deterministic for a given SEED).
With --odd, a few of the names hold spaces and non-ASCII characters."""
import os
import random
import sys


def main():
    root, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    odd = "--odd" in sys.argv[4:]
    rnd = random.Random(seed)
    paths = []
    for i in range(count):
        depth = i % 4
        parts = [f"d{i % 7}", f"s{i % 3}", f"t{i % 2}"][:depth]
        paths.append(os.path.join(*parts, f"f{i:04d}.bin") if parts else f"f{i:04d}.bin")
    if odd:
        paths += [
            "with space.txt",
            "dir with space/file with space.txt",
            "ünïcödé/naïve café.txt",
            "日本語/ファイル 1.txt",
            "emoji/✓ done.txt",
            "d0/plus+sign.txt",
            "d0/percent%20literal.txt",
        ]
    for n, p in enumerate(paths):
        full = os.path.join(root, p)
        os.makedirs(os.path.dirname(full) or root, exist_ok=True)
        # one empty file; the rest 1 B - 4 KiB
        size = 0 if n == 5 else rnd.randint(1, 4096)
        with open(full, "wb") as f:
            f.write(rnd.randbytes(size))


if __name__ == "__main__":
    main()
