#!/usr/bin/env bash
# One command sets up rustbox and the judge on a fresh Debian machine (as root):
# system packages, a virtualenv in .venv with the package and its test extras,
# and `rustbox` / `judge` on PATH (/usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")"

need=(libcap-dev libseccomp2 bubblewrap util-linux redis-server gcc g++ make libc6-dev libstdc++-12-dev python3-venv procps)
command -v javac >/dev/null || need+=(default-jdk-headless)
command -v node >/dev/null || need+=(nodejs)
command -v rustc >/dev/null || [ -x /root/.cargo/bin/rustc ] || need+=(rustc)
missing=()
for pkg in "${need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'
ln -sf "$PWD/.venv/bin/rustbox" /usr/local/bin/rustbox
ln -sf "$PWD/.venv/bin/judge" /usr/local/bin/judge
echo "setup: done; try: rustbox check-env"
