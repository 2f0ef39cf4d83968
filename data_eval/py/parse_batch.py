"""Parse-check many programs with ast.parse (nothing is executed).

stdin: JSON list of program texts; stdout: JSON list of {"ok": bool, "message": str}.
"""
import ast
import json
import sys


def check(text):
    try:
        ast.parse(text)
        return {"ok": True, "message": ""}
    except SyntaxError as exc:
        return {"ok": False, "message": f"SyntaxError: {exc.msg} (line {exc.lineno})"}
    except (ValueError, RecursionError, MemoryError) as exc:
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}"}


def main():
    programs = json.load(sys.stdin)
    json.dump([check(p) for p in programs], sys.stdout)


if __name__ == "__main__":
    main()
