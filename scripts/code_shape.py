#!/usr/bin/env python3
"""The size limits of STYLE.md for the product's C++ (tests and benchmarks aside): no source file over 600 lines, no
function over 100. Prints each offender as path:line and exits 1 if there is one.

Functions are found by brace matching after string literals and comments are blanked out: a `{` whose statement
ends in a parameter list (`) const`, `) -> T`, `) : member(x)`) outside any function opens a function body. A lambda
inside a function counts toward its function, which is what a reader sees.

    scripts/code_shape.py [--max-file N] [--max-function N] [FOLDER...]
"""
import argparse
import os
import re
import sys

PRODUCT = ["values", "pricing", "storage", "ingest", "server", "dashboard/src"]
LITERALS = re.compile(r'R"(\w*)\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)
SIGNATURE_END = re.compile(r"\)\s*(?:const|noexcept|override|final|&|&&|\s)*(?:->\s*[\w:<>,\s&*]+)?$")
CONSTRUCTOR_INIT = re.compile(r"\)\s*:\s*\w+\s*[({]")
CONTROL = re.compile(r"^(?:if|for|while|switch|catch|else|do)\b")


def blank_literals(text):
    """Strings and comments replaced by nothing but their newlines, so braces inside them do not count."""
    def keep_lines(match):
        token = match.group(0)
        filler = '""' if token[0] in 'R"' else "''" if token[0] == "'" else ""
        return filler + "\n" * token.count("\n")
    return LITERALS.sub(keep_lines, text)


def function_lengths(text):
    """(first line, line count) of every function body in a C++ source text."""
    code = blank_literals(text)
    found, stack, statement, line = [], [], "", 1
    for char in code:
        if char == "\n":
            line += 1
        if char == "{":
            inside_function = any(kind == "function" for kind, _ in stack)
            last = statement.strip().split("\n")[-1].strip()
            opens_function = not inside_function and not CONTROL.match(last) and (
                SIGNATURE_END.search(statement.strip()) or CONSTRUCTOR_INIT.search(statement))
            stack.append(("function" if opens_function else "block", line))
            statement = ""
        elif char == "}":
            if stack:
                kind, start = stack.pop()
                if kind == "function":
                    found.append((start, line - start + 1))
            statement = ""
        elif char == ";":
            statement = ""
        else:
            statement += char
    return found


def sources(folders):
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                if name.endswith((".cpp", ".hpp")):
                    yield os.path.join(root, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-file", type=int, default=600)
    parser.add_argument("--max-function", type=int, default=100)
    parser.add_argument("folders", nargs="*")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = []
    for path in sources(args.folders or [f for f in PRODUCT if os.path.isdir(f)]):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        if lines > args.max_file:
            problems.append(f"{path}:1: {lines} lines (at most {args.max_file} a file)")
        for start, length in function_lengths(text):
            if length > args.max_function:
                problems.append(f"{path}:{start}: a function of {length} lines (at most {args.max_function})")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
