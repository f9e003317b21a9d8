"""Make tests/data/golden_dequant.json with gguf-py's dequantizer (an independent decoder).

For each real model and each tensor type in it, the first tensor of that type (in file
order): its name, type, and the f32 values of its first 2 rows (at most 2,048 values)
as gguf-py decodes them. The Rust test decodes the same rows with ggml and compares.
Usage (maintainers): python scripts/make_golden_dequant.py CACHE_DIR > tests/data/golden_dequant.json
Needs: pip install gguf==0.17.1 numpy
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

MODELS = [
    "models/smollm2-135m-instruct-q4_1.gguf",
    "models/gemma-3-270m-q4_k_m.gguf",
    "models/qwen2.5-coder-0.5b-instruct.gguf",
]


def main(cache: str) -> None:
    out = []
    for rel in MODELS:
        r = GGUFReader(f"{cache}/{rel}")
        seen = set()
        for t in r.tensors:
            ty = t.tensor_type
            if ty in seen:
                continue
            seen.add(ty)
            rows = np.asarray(t.data)[:2]
            vals = dequantize(rows, ty).astype(np.float32).reshape(-1)[:2048]
            out.append({"model": rel, "tensor": t.name, "type": ty.name.lower(), "values": [float(v) for v in vals]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
