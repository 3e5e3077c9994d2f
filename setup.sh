#!/usr/bin/env bash
# One command sets up rustbox and the judge on a fresh Debian machine (as root):
# system packages, a virtualenv in .venv with the package and its test extras,
# and `rustbox` / `judge` on PATH (/usr/local/bin).
#
#   ./setup.sh --vm   also installs what .ci/v2-vm needs to test cgroup v2 in a
#                     VM: Debian's kernel (linux-image-amd64), qemu-system-x86,
#                     busybox-static, and virtme-ng in .venv (the `vm` extra).
#   ./setup.sh --languages
#                     also installs the judge's large toolchains: Kotlin and
#                     Haskell (GHC), about 1 GiB (the other languages of
#                     judge/languages.toml come with the default setup).
set -euo pipefail
cd "$(dirname "$0")"

vm=0 large=0
for arg in "$@"; do
  case "$arg" in
    --vm) vm=1 ;;
    --languages) large=1 ;;
    *) echo "setup: unknown option $arg (usage: ./setup.sh [--vm] [--languages])" >&2; exit 2 ;;
  esac
done

need=(libcap-dev libseccomp2 bubblewrap util-linux redis-server gcc g++ make libc6-dev libstdc++-12-dev python3-venv python3-dev procps
      chromium chromium-driver curl jq)   # the browser test (Selenium drives Debian's chromium); the README's judge serve example
command -v javac >/dev/null || need+=(default-jdk-headless)
command -v node >/dev/null || need+=(nodejs)
command -v rustc >/dev/null || [ -x /root/.cargo/bin/rustc ] || need+=(rustc)
# The judge's other languages (judge/languages.toml): Python 3 is PyPy.
need+=(pypy3 golang-go mono-mcs php-cli ruby scala fp-compiler ocaml-nox lua5.4)
[ "$large" = 0 ] || need+=(kotlin ghc)
vm_need=()
[ "$vm" = 0 ] || vm_need=(linux-image-amd64 qemu-system-x86 busybox-static kmod)
missing=() vm_missing=()
for pkg in "${need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
for pkg in "${vm_need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || vm_missing+=("$pkg")
done
if [ $(( ${#missing[@]} + ${#vm_missing[@]} )) -gt 0 ]; then
  echo "setup: installing ${missing[*]} ${vm_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#missing[@]} = 0 ] || apt-get install -y -qq "${missing[@]}" >/dev/null
  # The VM needs only the kernel image, qemu's x86 emulator and busybox.
  [ ${#vm_missing[@]} = 0 ] || apt-get install -y -qq --no-install-recommends "${vm_missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
if [ "$vm" = 1 ]; then extras='.[test,vm]'; else extras='.[test]'; fi
.venv/bin/pip install -q -e "$extras"
ln -sf "$PWD/.venv/bin/rustbox" /usr/local/bin/rustbox
ln -sf "$PWD/.venv/bin/judge" /usr/local/bin/judge
echo "setup: done; try: rustbox check-env"
