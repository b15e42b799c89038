#!/usr/bin/env python3
"""ponder's answer checking against Hugging Face math-verify, case by case.

CASES is a table of (gold, candidate, ponder's verdict, why). For every case
the test asks ponder (`ponder tasks verify`, which runs the verifier that
training rewards and eval use: check in curricula/task.h, normalize_number in
curricula/answer.h) and math-verify (`verify(parse(gold), parse(candidate))`)
whether the candidate answers the gold answer, then fails when
  - ponder's verdict is not the table's, or
  - math-verify's verdict differs from ponder's and the case has no `why`, or
  - a case has a `why` but the two agree (the explanation is stale).
So every disagreement is written down next to its case. They fall into a few
kinds: math-verify reads LaTeX, expressions, equations, units and words around
a number and compares floats with a tolerance, where ponder wants exactly one
plain number with an exact value; ponder reads signs math-verify does not
('+', U+2212 '−', a sign before '$'); and they read percent and commas
differently ("50%" is 50 to ponder, 50 or 0.5 to math-verify; "1,2" and
"0,500" are decimal commas to math-verify and not numbers to ponder).

The verdicts recorded here are math-verify 0.9.0's, the version scripts/setup
pins. Exits 77 (ctest: skipped) when the venv has no math_verify.

Run by ctest (interop.math_verify) with the venv made by scripts/setup.
"""
import argparse
import json
import logging
import subprocess
import sys
from importlib import metadata

SKIPPED = 77

try:
    from math_verify import parse, verify
except ImportError:
    print("SKIPPED: math_verify is not in this Python; scripts/setup installs it in build/venv")
    sys.exit(SKIPPED)

# Reasons shared by several cases.
UNITS = ("ponder refuses units and words around the number: the answer span holds the "
         "number only; math-verify drops the text and keeps the number")
EQUATION = ("math-verify takes the right-hand side of an equation; ponder wants the bare "
            "number")
EXPRESSION = ("math-verify evaluates expressions and LaTeX; ponder's numeric answers are "
              "numbers, not expressions (countdown has its own expression verifier)")
UNICODE_MINUS = ("math-verify reads no U+2212 minus sign and extracts nothing; ponder reads it "
                 "as '-'")
SIGN_DOLLAR = "math-verify extracts nothing from a sign before '$'; ponder reads '-$5' as -5"
PERCENT_FRACTION = ("math-verify accepts n% as n or as n/100; ponder reads '50%' as 50 only "
                    "(GSM8K answers percentage questions with the bare number), so n/100 is "
                    "another answer")
TOLERANCE = ("math-verify compares decimals with a relative tolerance; ponder compares exact "
             "values, and a rounded decimal is not the fraction")

# (gold, candidate, ponder's verdict, why math-verify disagrees or None).
CASES = [
    # Integers and signs.
    ("42", "42", True, None),
    ("42", "042", True, None),
    ("42", "+42", True, "math-verify extracts nothing from '+42'; ponder drops a leading '+'"),
    ("-42", "\u221242", True, UNICODE_MINUS),
    ("0", "-0", True, None),
    ("42", "-42", False, None),
    ("3", "4", False, None),
    ("-3", "(-3)", False, None),
    ("123456789012345678901234567890", "123456789012345678901234567891", False, None),
    ("7", "7/1", True, None),
    ("3", "three", False, None),
    ("1000", "1e3", False, None),
    ("1000", "1k", False, None),
    # Decimals.
    ("3", "3.0", True, None),
    ("3", "3.", True, None),
    ("0.5", ".5", True, None),
    ("3.5", "3.50", True, None),
    ("-0.5", "-.5", True, "math-verify extracts nothing from '-.5'; ponder reads it as -0.5"),
    ("12", "12.0001", False, None),
    ("1", "0.999999", False, None),
    ("1", "1.0000000001", False, None),
    ("1/3", "0.333", False, None),
    ("2/3", "0.6667", False, None),
    ("1/3", "0.3333333", False, TOLERANCE),
    ("1.5", "1.5.0", False,
     "math-verify takes the leading 1.5 of '1.5.0'; ponder refuses a malformed number"),
    # Commas.
    ("1000", "1,000", True, None),
    ("1234567", "1,234,567", True, None),
    ("-12000.5", "-12,000.50", True, None),
    ("1234.5", "1,234.5", True, None),
    ("1234", "1,23,4", False, None),
    ("1000", "1.000", False, None),
    ("1.2", "1,2", False,
     "math-verify reads a comma before fewer than three digits as a decimal comma; ponder "
     "reads commas only as thousands separators, so '1,2' is not a number"),
    ("500", "0,500", False, None),
    ("0.5", "0,500", False,
     "math-verify reads '0,500' as 0.5 (a decimal comma); ponder refuses the ambiguous form "
     "(a thousands group never starts with 0)"),
    ("1234", "1234,", False,
     "math-verify drops a trailing comma as punctuation; ponder refuses it"),
    ("1000", "1 000", False,
     "math-verify joins digits around a space; ponder takes no space as a thousands "
     "separator ('3 4' is two numbers)"),
    # Dollars.
    ("18", "$18", True, None),
    ("18", "$18.00", True, None),
    ("1000", "$1,000", True, None),
    ("0.5", "$0.50", True, None),
    ("-5", "$-5", True, None),
    ("-5", "-$5", True, SIGN_DOLLAR),
    ("5", "+$5", True, SIGN_DOLLAR),
    ("25", "$25.5", False, None),
    ("5", "$ 5", False,
     "math-verify skips the space; ponder reads '$' only right before the number"),
    ("5", "$5$", False,
     "math-verify reads $...$ as LaTeX math; ponder's answers are plain text and '$' is a "
     "currency sign before the number"),
    # Percent.
    ("50", "50%", True, None),
    ("12.5", "12.5%", True, None),
    ("10", "10%", True, None),
    ("0.5", "50%", False, PERCENT_FRACTION),
    ("1", "100%", False, PERCENT_FRACTION),
    ("50", "50 %", False,
     "math-verify skips the space; ponder reads '%' only right after the number"),
    ("0.5", "50 percent", False, UNITS),
    # Fractions.
    ("0.75", "3/4", True, None),
    ("-0.75", "-6/8", True, None),
    ("2", "4/2", True, None),
    ("1/3", "2/6", True, None),
    ("-2.5", "-10/4", True, None),
    ("0.2", "1/5", True, None),
    ("1/1024", "0.0009765625", True, None),
    ("-0.75", "\u22123/4", True, UNICODE_MINUS),
    ("-0.75", "3/-4", False,
     "math-verify evaluates 3/(-4); ponder reads a fraction as one sign and two unsigned "
     "integers"),
    ("0.75", "3 / 4", False,
     "math-verify evaluates '3 / 4'; ponder reads a fraction without spaces"),
    ("1.5", "1 1/2", False, None),
    # Units, words and several numbers.
    ("72", "72 clips", False, UNITS),
    ("18", "18 dollars", False, UNITS),
    ("60", "60 km/h", False, UNITS),
    ("3", "3 r's", False, UNITS),
    ("3", "2 or 3", False,
     "math-verify takes the last number of a hedged answer; ponder refuses an answer that "
     "names two numbers"),
    ("3", "3 4", False, None),
    ("3", "3 and 4", False, None),
    ("3", "3-4", False, None),
    ("5", "x = 5", False, EQUATION),
    ("72", "48 + 24 = 72", False, EQUATION),
    # Expressions and LaTeX.
    ("2", "1+1", False, EXPRESSION),
    ("12", "\\frac{24}{2}", False, EXPRESSION),
    ("12", "\\boxed{12}", False, EXPRESSION),
    ("5", "5!", False, "math-verify drops a trailing '!' as punctuation; ponder refuses it"),
    ("24", "4!", False, None),
]


def ponder_verdicts(ponder):
    """`ponder tasks verify` on every case: [(equal, normalized)]."""
    lines = "".join(
        json.dumps({"expected": gold, "answer": candidate, "family": "gsm8k"}) + "\n"
        for gold, candidate, _, _ in CASES)
    out = subprocess.run([ponder, "tasks", "verify"], input=lines, capture_output=True,
                         text=True, check=True).stdout
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(CASES), f"{len(results)} verdicts for {len(CASES)} cases"
    return [(r["equal"], r["normalized"]) for r in results]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ponder", required=True)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify logs every failed parse
    version = metadata.version("math-verify")
    assert len(CASES) >= 50

    failures = []
    agree = 0
    for (gold, candidate, expected, why), (ours, normalized) in zip(CASES, ponder_verdicts(
            args.ponder)):
        theirs = verify(parse(gold), parse(candidate))
        case = f"gold {gold!r}, candidate {candidate!r} (ponder reads {normalized!r})"
        if ours != expected:
            failures.append(f"{case}: ponder says {ours}, the table says {expected}")
        if theirs == ours:
            agree += 1
            if why is not None:
                failures.append(f"{case}: math-verify {version} now agrees ({theirs}); "
                                f"remove the explanation")
        elif why is None:
            failures.append(f"{case}: ponder says {ours}, math-verify {version} says {theirs}, "
                            f"and the case does not explain why")

    print(f"{len(CASES)} cases: math-verify {version} agrees with ponder on {agree}, "
          f"disagrees on {len(CASES) - agree}")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
