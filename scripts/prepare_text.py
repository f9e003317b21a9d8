"""Write the Bible texts used by demos and tests, split into disjoint parts.

For each language: verses 0..27,999 (in canonical order) are the training split (fastText,
trimming), verses 28,000.. the held-out split (evaluation only, never trained on).
Usage: prepare_text.py bible.db OUT_DIR
"""
import sqlite3
import sys
from pathlib import Path

TRAIN_VERSES = 28_000
LANGS = {"ko": "n", "de": "e", "en": "k"}


def main(db: str, out: str) -> None:
    con = sqlite3.connect(db)
    for lang, code in LANGS.items():
        rows = con.execute(
            "select vText from bible where bbName=? order by bNumber, cNumber, vNumber", (code,)
        ).fetchall()
        verses = [" ".join(r[0].split()) for r in rows]
        if len(verses) < TRAIN_VERSES + 1000:
            raise SystemExit(f"{db}: only {len(verses)} verses for code {code!r}")
        for name, part in (("train", verses[:TRAIN_VERSES]), ("heldout", verses[TRAIN_VERSES:])):
            path = Path(out) / f"bible-{lang}-{name}.txt"
            tmp = path.with_suffix(".part")
            tmp.write_text("\n".join(part) + "\n", encoding="utf-8")
            tmp.replace(path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
