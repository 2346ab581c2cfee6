#!/usr/bin/env bash
# Checks the two Debian packages that minibrowser needs beyond Python itself,
# for the interpreter $PYTHON (default: python3 on the PATH):
#   python3-venv  the venv and ensurepip modules (Debian ships them apart)
#   libseccomp2   the seccomp library the renderer's sandbox loads
# As root it installs the missing ones with apt-get; as anyone else it says
# exactly what to install, and that installing needs root, and exits 1.
# Called by scripts/setup.sh on first setup, and by .ci/run for the
# interpreter the unprivileged test run uses.
set -euo pipefail

die() { echo "setup: $*" >&2; exit 1; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "$python is not installed: install Python 3.11 or newer (as root: apt-get install python3)"

# Ask the interpreter itself: the same lookups the browser makes at run time,
# with no ldconfig (not on a normal user's PATH) and no pipes.
missing=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=("python3-venv")
"$python" -c 'import ctypes; ctypes.CDLL("libseccomp.so.2")' 2>/dev/null || missing+=("libseccomp2")
((${#missing[@]})) || exit 0

if [ "$(id -u)" != 0 ]; then
  die "missing system packages: ${missing[*]}; installing them needs root: run 'sudo apt-get install ${missing[*]}' (or, as root, 'apt-get install ${missing[*]}'), then run this command again"
fi
command -v apt-get >/dev/null \
  || die "missing system packages: ${missing[*]}; this is not a Debian system: install their equivalents with your package manager, then run this command again"
echo "setup: installing ${missing[*]} with apt-get" >&2
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null \
  || die "apt-get could not install ${missing[*]}; see the messages above"
