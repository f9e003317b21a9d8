"""Turn the USE-multilingual token table (17 uint8 shards + scale/lo) into one float32 .npy.

Row p = q{p % 17 + 1}[p // 17] * scale[p % 17] + lo[p % 17]; the first 128,000 rows are the
sentencepiece vocabulary (docs/development.md (assets)). Usage: prepare_use.py weights.npz out.npy
"""
import sys

import numpy as np

N_ROWS = 128_000
SHARDS = 17


def main(src: str, dst: str) -> None:
    z = np.load(src)
    scale = z["scale"].astype(np.float32)
    lo = z["lo"].astype(np.float32)
    q = [z[f"q{i + 1}"] for i in range(SHARDS)]
    width = q[0].shape[1]
    out = np.empty((N_ROWS, width), dtype=np.float32)
    for s in range(SHARDS):
        rows = np.arange(s, N_ROWS, SHARDS)
        out[rows] = q[s][rows // SHARDS].astype(np.float32) * scale[s] + lo[s]
    with open(dst, "wb") as f:
        np.save(f, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
