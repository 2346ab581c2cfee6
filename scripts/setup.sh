#!/usr/bin/env bash
# Sets up minibrowser in ./.venv on a Debian machine with Python 3.11+.
# Idempotent and quiet when there is nothing to do; sourced by ./run and ./run-tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

die() { echo "setup: $*" >&2; exit 1; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "python3 is not installed: install Python 3.11 or newer (apt-get install python3)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "minibrowser needs Python 3.11 or newer; $("$python" --version 2>&1) found"

# Debian splits venv/ensurepip and libseccomp out of the base system.
need_apt=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || need_apt+=("python3-venv")
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || need_apt+=("libseccomp2")
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null \
      || die "apt-get could not install ${need_apt[*]}"
  else
    die "missing system packages: ${need_apt[*]}; install them (sudo apt-get install ${need_apt[*]}) and run again"
  fi
fi

stamp="$venv/.minibrowser-installed"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  "$python" -m venv "$venv" || die "could not create a virtual environment in $venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing minibrowser and its dependencies (first run only)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[test]" 2>&1 \
    | grep -vE "is ignored: it is neither a file nor a directory" >&2 || true
  "$venv/bin/python" -c 'import zmq, msgspec, selectolax, httpx, psutil, pyseccomp, textual, pytest' \
    || die "the Python dependencies did not install; see the messages above"
  echo "$want" > "$stamp"
fi
