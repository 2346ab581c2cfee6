#!/usr/bin/env bash
# Sets up minibrowser in ./.venv on a Debian machine with Python 3.11+, as
# root or as a normal user.  Quiet when there is nothing to do.
#
# ./run and ./run-tests source this file: once the venv is installed and
# pyproject.toml has not changed since, it returns at once without starting a
# single process, so ./run costs no more than .venv/bin/minibrowser.  The
# system packages are checked once, when the venv is made or reinstalled.
#
# PYTHON names the interpreter to build the venv from (default: python3).

_setup_script="${BASH_SOURCE[0]}"
[[ $_setup_script == */* ]] && _setup_root="${_setup_script%/*}/.." || _setup_root=".."
if [[ -x $_setup_root/.venv/bin/python && $_setup_root/.venv/.minibrowser-installed -nt $_setup_root/pyproject.toml ]]; then
  unset _setup_script _setup_root
  return 0 2>/dev/null || exit 0
fi
if [[ $_setup_script != "$0" ]]; then
  # Sourced, with work to do: do it in a child shell, so that nothing leaks
  # into the caller; its failure (already explained on stderr) ends the caller.
  "$BASH" "$_setup_script"
  unset _setup_script _setup_root
  return 0
fi

set -euo pipefail
root="$(cd "$_setup_root" && pwd)"
venv="$root/.venv"

die() { echo "setup: $*" >&2; exit 1; }

stamp="$venv/.minibrowser-installed"
want="$(sha256sum <"$root/pyproject.toml")"
want="${want%% *}"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(<"$stamp")" = "$want" ]; then
  touch "$stamp"  # pyproject.toml was touched but not changed
  exit 0
fi

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "$python is not installed: install Python 3.11 or newer (as root: apt-get install python3)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "minibrowser needs Python 3.11 or newer; $("$python" --version 2>&1) found"

PYTHON="$python" "$root/scripts/system-packages.sh"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  "$python" -m venv "$venv" || die "could not create a virtual environment in $venv"
fi
echo "setup: installing minibrowser and its dependencies (first run only)" >&2
# "compat" editable mode: a plain path in a .pth file.  The default mode
# installs an import hook that every interpreter start (the broker, the
# zygote) loads: 10-35 ms each, a third of lynx -dump's whole run.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat \
  -e "$root[test,plots,cluster]" 2>&1 \
  | grep -vE "is ignored: it is neither a file nor a directory" >&2 || true
"$venv/bin/python" -c 'import zmq, msgspec, selectolax, tinycss2, httpx, psutil, pyseccomp, textual, rich, plotext, pytest, distributed, matplotlib' \
  || die "the Python dependencies did not install; see the messages above"
echo "$want" >"$stamp"
