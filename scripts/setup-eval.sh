#!/usr/bin/env bash
# Installs what the security evaluation harness needs on Debian 12 (run as root).
# Idempotent, quick and silent when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(bubblewrap util-linux procps tar gcc libc6-dev cppcheck clang clang-tools libasan8 libubsan1 binutils python3-venv)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-eval: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

VENV=.venv-eval
REQ=tools/requirements-eval.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if ! [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
    echo "setup-eval: creating $VENV with $PY"
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
  echo "setup-eval: $VENV installed from $REQ"
fi

# Smoke check of what the sandbox relies on.
if [[ $(id -u) -ne 0 ]]; then echo "setup-eval: note: not root: scoring will use the rootless sandbox (user namespaces, docs/eval.md)" >&2; fi
unshare -n true || { echo "setup-eval: error: cannot create a network namespace" >&2; exit 1; }
bwrap --ro-bind / / --unshare-net --unshare-pid true || { echo "setup-eval: error: bwrap does not work here" >&2; exit 1; }
