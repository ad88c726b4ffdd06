#!/usr/bin/env bash
# Downloads the Debian 12 (bookworm, amd64) packages that clinfm needs on the GPU machine besides
# what its image already has (LibTorch, CUDA and NCCL come from the PyTorch package there; the
# C/C++ runtime and compiler from the image): yaml-cpp, fmt, HDF5 (serial), OpenMPI with its run-time
# dependency closure, CLI11, nlohmann-json, GoogleTest, zlib/libaec headers. Run on a Debian 12
# machine with apt (no root needed: `apt-get download` only fetches). Prints the set and its size.
#   scripts/gpu/fetch_debs.sh [DIR=.gpu-debs]      (DIR is gitignored; the device tool carries it)
# Then, on the GPU machine: scripts/gpu/unpack.sh DIR PREFIX (docs/gpu.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-$root/.gpu-debs}

# Headers, CMake/pkg-config files, dev symlinks, compiler wrappers: taken as they are, without
# their own dependencies (those are build-time -dev packages and compilers clinfm does not need).
dev=(libopenmpi-dev libhdf5-dev hdf5-helpers libyaml-cpp-dev libfmt-dev libcli11-dev
     nlohmann-json3-dev libgtest-dev zlib1g-dev libaec-dev libssl-dev)
# Run-time roots: taken with their Depends/Pre-Depends closure (first alternative of each `a | b`,
# no Recommends), minus the base system below.
runtime=(libopenmpi3 openmpi-bin openmpi-common libpmix2 libhdf5-103-1 libhdf5-hl-100
         libyaml-cpp0.7 libfmt9 libsz2 hdf5-tools)
# Never fetched: the C/C++ run time and the base system any glibc distribution image has (the
# GPU machine's own copies must win: theirs are newer), package-management tools, ssh (mpirun
# needs it for several hosts only), and hwloc's optional plugins (PCI/X11/OpenCL/NVML discovery:
# they alone would pull libxml2 + libicu72, ~11 MB; hwloc and OpenMPI run without them).
exclude=(libc6 libc-bin libgcc-s1 libstdc++6 gcc-12-base zlib1g libzstd1 liblzma5 libbz2-1.0
         libcrypt1 libselinux1 libpcre2-8-0 libudev1 libacl1 libattr1 libaudit1 libaudit-common
         libcap-ng0 libcap2 libpam0g libpam-modules libpam-modules-bin libpam-runtime passwd adduser
         debconf cdebconf dpkg tar install-info libdebian-installer4 libnewt0.52 libslang2
         libtextwrap1 readline-common libreadline8 libtinfo6 libsemanage2 libsemanage-common
         libsepol2 libdb5.3 libmd0 libbsd0 libuuid1 openssh-client libhwloc-plugins perl-base)

command -v apt-get >/dev/null && command -v apt-cache >/dev/null ||
  { echo "fetch_debs.sh: needs apt (a Debian 12 machine)" >&2; exit 1; }
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ "$codename" = bookworm ] || echo "fetch_debs.sh: warning: this is '$codename', not Debian 12 (bookworm)" >&2
[ "$(dpkg --print-architecture)" = amd64 ] || { echo "fetch_debs.sh: needs an amd64 apt" >&2; exit 1; }

declare -A seen=()
for p in "${exclude[@]}"; do seen[$p]=excluded; done
# Depends of one package: one name per line, first alternative, no versions or :any.
deps_of() {
  apt-cache show --no-all-versions "$1" | sed -n 's/^\(Pre-\)\?Depends: //p' | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | sed '/^$/d'
}
queue=("${runtime[@]}")
closure=()
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}; queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  if ! apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
    echo "fetch_debs.sh: $p is not a real package here (virtual?): skipped" >&2; continue
  fi
  closure+=("$p")
  while read -r d; do [ -z "${seen[$d]:-}" ] && queue+=("$d"); done < <(deps_of "$p")
done
mapfile -t all < <(printf '%s\n' "${dev[@]}" "${closure[@]}" | sort -u)

mkdir -p "$dir"
rm -f "$dir"/*.deb
echo "fetch_debs.sh: downloading ${#all[@]} packages into $dir"
sandbox=(); [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)  # root: no _apt permission warning
(cd "$dir" && apt-get download -q "${sandbox[@]}" "${all[@]}" >/dev/null)
# A list of what was fetched (and from which version), kept beside the files.
(cd "$dir" && for f in *.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done) >"$dir/MANIFEST"
n=$(ls "$dir"/*.deb | wc -l)
[ "$n" -eq "${#all[@]}" ] || { echo "fetch_debs.sh: expected ${#all[@]} files, got $n" >&2; exit 1; }
printf '%-28s %8s\n' package KiB
for f in "$dir"/*.deb; do printf '%-28s %8d\n' "$(dpkg-deb -f "$f" Package)" $(( $(stat -c %s "$f") / 1024 )); done
total=$(du -cb "$dir"/*.deb | tail -1 | cut -f1)
echo "fetch_debs.sh: $n packages, $(( total / 1024 / 1024 )) MiB ($total bytes) in $dir" \
     "(the device call carries at most 64 MiB of working tree)"
