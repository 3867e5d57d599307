#!/usr/bin/env python3
"""Markdown tables for the model card from `relage eval --json` outputs (train.sh's eval-*.json).

    card_tables.py DIR [SHIPPED]   (DIR holds eval-<model>-<set>.json; SHIPPED: the shipped
                                   model's tag, default v2-f16)

Prints the overall table (every model and set) and, for the shipped model, the breakdowns
by age group, gender and race that the labels carry (UTKFace codes: gender 0 male, 1 female;
race 0 White, 1 Black, 2 Asian, 3 Indian, 4 other)."""
import glob
import json
import os
import sys

SETS = {"utk_val": "UTKFace val split (real age)",
        "appa_heldout": "APPA-REAL held-out dev faces (apparent age)",
        "utk_test": "UTKFace test split (real age)",
        "aaf_val": "All-Age-Faces val split (real age)"}
GENDER = {"0": "male", "1": "female"}
RACE = {"0": "White", "1": "Black", "2": "Asian", "3": "Indian", "4": "other"}


def num(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "."
    shipped = sys.argv[2] if len(sys.argv) > 2 else "v2-f16"
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "eval-*.json"))):
        name = os.path.basename(path)[len("eval-"):-len(".json")]
        with open(path) as f:
            runs[name] = json.load(f)
    print("| model | set | n | MAE | epsilon | MAE vs real age |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        model, rest = name, ""
        for key in SETS:
            at = name.find("-" + key)
            if at >= 0:
                model, rest = name[:at], name[at + 1:]
        print(f"| {model} | {rest} | {r['n']} | {num(r['mae'], 3)} | {num(r.get('eps'), 4)} "
              f"| {num(r.get('mae_real'), 3)} |")
    for s, title in SETS.items():
        r = runs.get(f"{shipped}-{s}")
        if not r or s == "utk_val":
            continue
        print(f"\n{title}, shipped model:\n")
        print("| group | n | MAE | epsilon |")
        print("|---|---|---|---|")
        for g, v in r.get("groups", {}).items():
            print(f"| age {g} | {v['n']} | {num(v['mae'], 3)} | {num(v.get('eps'), 4)} |")
        for key, names in (("gender", GENDER), ("race", RACE)):
            for g, v in r.get(key, {}).items():
                print(f"| {names.get(g, g)} | {v['n']} | {num(v['mae'], 3)} | "
                      f"{num(v.get('eps'), 4)} |")


if __name__ == "__main__":
    main()
