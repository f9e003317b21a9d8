"""Make tests/data/fasttext-tiny.bin and tests/data/fasttext-tiny.json with the reference
fastText implementation (Python `fasttext-numpy2`), for the auxiliary-vector test.

A skipgram model (dim 8, char n-grams 2..4, 500 buckets, min count 1, one thread) trained
on the Korean constitution (konlpy, public-domain statute text), and get_word_vector of
in-vocabulary words, out-of-vocabulary words (n-grams only, Hangul bytes >= 0x80 exercise
the signed-byte hash) and ASCII. Usage (maintainers):
python scripts/make_fasttext_golden.py CACHE_DIR tests/data
"""
import json
import sys

import fasttext


def main(cache: str, out: str) -> None:
    text = f"{cache}/text/constitution-ko.txt"
    m = fasttext.train_unsupervised(
        text, model="skipgram", dim=8, minn=2, maxn=4, bucket=500, minCount=1, epoch=1, thread=1, verbose=0
    )
    m.save_model(f"{out}/fasttext-tiny.bin")
    words = m.get_words()[:12] + ["대한민국", "헌법재판소장", "없는낱말", "국민의", "abc", "Zeta", "의", "가나다라마바사"]
    vectors = {w: [float(x) for x in m.get_word_vector(w)] for w in words}
    with open(f"{out}/fasttext-tiny.json", "w", encoding="utf-8") as f:
        json.dump({"in_vocab": m.get_words()[:12], "vectors": vectors}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
