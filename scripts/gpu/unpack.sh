#!/usr/bin/env bash
# Unpacks the Debian 12 packages fetched by scripts/gpu/fetch_debs.sh under PREFIX, on a machine
# without apt (the GPU machine), and makes the result usable from there:
#   - dpkg -x each .deb (or, without dpkg-deb, ar + tar through python3);
#   - recreate what Debian's maintainer scripts would have made (update-alternatives links:
#     mpirun, mpiexec, mpicc, mpicxx, libmpi.so, mpi.pc, hdf5.pc, include/x86_64-linux-gnu/mpi);
#   - absolute symlinks into /usr that the prefix holds become relative; dev links to libraries the
#     prefix does not hold (libz.so) point at the machine's own copy;
#   - pkg-config files and the h5cc/h5c++ wrappers get PREFIX/usr instead of /usr (CMake config
#     files compute their prefix from their own location and need nothing);
#   - generic system libraries the machine already has (libssl3, libcurl4's chain, krb5, ...)
#     are moved aside to PREFIX/shadowed so that the machine's own (newer) copies win; OpenMPI,
#     PMIx, hwloc, libevent, the fabric libraries, HDF5, yaml-cpp and fmt always come from PREFIX.
#     CLINFM_GPU_PRUNE=none keeps everything;
#   - PREFIX/env.sh: PATH, LD_LIBRARY_PATH, OPAL_PREFIX (OpenMPI's relocation) and friends,
#     PMIX_PREFIX, HWLOC_PLUGINS_PATH, CMAKE_PREFIX_PATH, PKG_CONFIG_PATH.
#   scripts/gpu/unpack.sh DEBDIR PREFIX        then: source PREFIX/env.sh
# Safe to run again over the same PREFIX (it starts from an empty PREFIX each time).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: unpack.sh DEBDIR PREFIX" >&2; exit 2; }
debdir=$(cd "$1" && pwd)
mkdir -p "$2"
prefix=$(cd "$2" && pwd)
ma=x86_64-linux-gnu
lib=$prefix/usr/lib/$ma
log() { echo "unpack.sh: $*"; }

# --- the machine ----------------------------------------------------------------------------
[ "$(uname -m)" = x86_64 ] || { echo "unpack.sh: these are amd64 packages; this is $(uname -m)" >&2; exit 1; }
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
os=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown)
log "machine: $os, glibc ${glibc:-unknown}"
# Debian 12's binaries are linked against glibc 2.36 (and GCC 12's libstdc++).
if [ -n "$glibc" ] && [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" != 2.36 ]; then
  echo "unpack.sh: glibc $glibc is older than 2.36: Debian 12's libraries will not load here" >&2
  exit 1
fi
ls "$debdir"/*.deb >/dev/null 2>&1 || { echo "unpack.sh: no .deb files in $debdir" >&2; exit 1; }

# --- unpack ---------------------------------------------------------------------------------
if [ -e "$prefix/usr" ] || [ -e "$prefix/env.sh" ]; then
  log "emptying $prefix"
  rm -rf "${prefix:?}/usr" "${prefix:?}/etc" "${prefix:?}/lib" "${prefix:?}/shadowed" "${prefix:?}/env.sh"
fi
extract() {  # extract DEB DIR
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$1" "$2"
  else
    python3 - "$1" "$2" <<'PY'
import io, lzma, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not an ar archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        if name.endswith(".zst"):
            sys.exit(deb + ": zstd-compressed data and no dpkg-deb here")
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
            t.extractall(dest)
        break
else:
    sys.exit(deb + ": no data.tar member")
PY
  fi
}
n=0
for f in "$debdir"/*.deb; do extract "$f" "$prefix"; n=$((n + 1)); done
log "unpacked $n packages into $prefix"
# Documentation and manuals are of no use there.
rm -rf "$prefix/usr/share/doc" "$prefix/usr/share/man" "$prefix/usr/share/lintian" \
       "$prefix/usr/share/info" "$prefix/usr/lib/$ma/fortran"

# --- what Debian's postinst scripts would have made (update-alternatives) ------------------
altlink() {  # altlink LINK TARGET (both absolute Debian paths); made relative inside PREFIX
  local link=$prefix$1 target=$prefix$2
  [ -e "$target" ] || { log "alternative $1: $2 is not in the prefix, skipped"; return 0; }
  mkdir -p "$(dirname "$link")"
  ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$target")" "$link"
}
for w in mpirun mpiexec mpicc mpic++ mpicxx mpiCC ompi_info orterun; do
  [ -e "$prefix/usr/bin/$w" ] || altlink /usr/bin/$w /usr/bin/$w.openmpi
done
altlink /usr/bin/mpicxx /usr/bin/mpic++.openmpi
altlink /usr/bin/mpiCC /usr/bin/mpic++.openmpi
altlink /usr/include/$ma/mpi /usr/lib/$ma/openmpi/include
altlink /usr/lib/$ma/libmpi.so /usr/lib/$ma/openmpi/lib/libmpi.so
altlink /usr/lib/$ma/libmpi++.so /usr/lib/$ma/openmpi/lib/libmpi_cxx.so
for pc in mpi:ompi mpi-c:ompi-c mpi-cxx:ompi-cxx; do
  altlink /usr/lib/$ma/pkgconfig/${pc%%:*}.pc /usr/lib/$ma/openmpi/lib/pkgconfig/${pc#*:}.pc
done
altlink /usr/lib/$ma/pkgconfig/hdf5.pc /usr/lib/$ma/pkgconfig/hdf5-serial.pc
# OpenMPI's PSM transport plugin needs libpsm_infinipath.so.1, an alternative in Debian.
for f in "$prefix"/usr/lib/libpsm1/libpsm_infinipath.so.1.*; do
  [ -e "$f" ] && altlink /usr/lib/$ma/libpsm_infinipath.so.1 "${f#$prefix}"
done

# --- symlinks -------------------------------------------------------------------------------
# Host soname path of a library name stem (libz -> /lib/x86_64-linux-gnu/libz.so.1), or nothing.
host_lib() {
  { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true; } |
    awk -v stem="$1" '$1 ~ "^" stem "\\.so\\.[0-9]+$" && /x86-64/ {print $NF; exit}'
}
while IFS= read -r -d '' l; do
  t=$(readlink "$l")
  if [ -e "$prefix$t" ]; then  # absolute link to something the prefix holds: make it relative
    ln -sfn "$(realpath --relative-to="$(dirname "$l")" "$prefix$t")" "$l"
  fi
done < <(find "$prefix" -type l -lname '/*' -print0)
# Links left dangling: an absolute dev link to a base library that was not fetched (zlib1g-dev's
# libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) points at the machine's own soname instead;
# relative ones (C++/Fortran HDF5 dev links whose packages were not fetched, docs) are removed.
while IFS= read -r -d '' l; do
  [ -e "$l" ] && continue
  t=$(readlink "$l") name=$(basename "$l") h=""
  case $t:$name in /*:lib*.so) h=$(host_lib "${name%.so}") ;; esac
  if [ -n "$h" ]; then ln -sfn "$h" "$l"; log "${l#$prefix/} -> $h (the machine's own)"
  else rm -f "$l"; fi
done < <(find "$prefix" -type l -print0)

# --- text files with /usr in them -----------------------------------------------------------
# pkg-config: prefix=/usr, -I/usr/..., -L/usr/..., libdir=/usr/...
while IFS= read -r -d '' pc; do
  sed -i -E "s#(^|[=[:space:]]|-I|-L)/usr([/[:space:]]|\$)#\\1$prefix/usr\\2#g" "$pc"
done < <(find "$prefix/usr" -name '*.pc' -type f -print0)
# HDF5 compiler wrappers (CMake's FindHDF5 asks h5cc how to compile and link). Their extra
# libraries (-lcrypto -lcurl) matter only for static linking and have no dev links here.
for w in h5cc h5c++ h5fc; do
  f=$prefix/usr/bin/$w
  [ -f "$f" ] || continue
  sed -i -E "s#^prefix=\"/usr\"#prefix=\"$prefix/usr\"#; s#^(H5BLD_LIBS=.*)-lcrypto -lcurl #\\1#" "$f"
done
# OpenMPI's wrapper data use ${includedir}/${libdir}, which OPAL_PREFIX relocates (env.sh).

# --- generic system libraries: the machine's own copies win --------------------------------
# Always from the prefix (never moved aside), whatever the machine has.
keep='^lib(mpi|open-|ompi|oshmem|mca_|pmix|hwloc|event|hdf5|yaml-cpp|fmt|sz|aec|fabric|uc[mpst]|psm|infinipath|ibverbs|rdmacm|efa|mlx|mana|nl-|numa|munge)'
pruned=()
if [ "${CLINFM_GPU_PRUNE:-auto}" != none ]; then
  mkdir -p "$prefix/shadowed"
  for f in "$lib"/lib*.so.* "$prefix/lib/$ma"/lib*.so.*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    base=$(basename "$f")
    [[ $base =~ $keep ]] && continue
    stem=${base%%.so.*}
    h=$(host_lib "$stem")
    [ -n "$h" ] && [ -e "$h" ] || continue
    case $h in "$prefix"/*) continue ;; esac
    # The library and its soname links go to PREFIX/shadowed: the machine's copy is found instead.
    for g in "$(dirname "$f")/$stem".so.*; do mv "$g" "$prefix/shadowed/"; done
    pruned+=("$stem")
  done
  log "left to the machine's own copies (moved to $prefix/shadowed): ${pruned[*]:-none}"
fi

mkdir -p "$lib/hwloc"

# --- env.sh ---------------------------------------------------------------------------------
cat >"$prefix/env.sh" <<EOF
# Made by clinfm's scripts/gpu/unpack.sh: source it before configuring, building or running.
export CLINFM_GPU_PREFIX=$prefix
export PATH=$prefix/usr/bin\${PATH:+:\$PATH}
export LD_LIBRARY_PATH=$lib:$prefix/lib/$ma:$lib/openmpi/lib:$lib/hdf5/serial:$lib/pmix2/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
# OpenMPI 4.1 relocation: every install dir (libdir, pkglibdir = the plugins, pkgdatadir = the
# wrapper data and help files) is computed from OPAL_PREFIX; sysconfdir is /etc/openmpi in Debian
# (not under the prefix), so it is named on its own (Debian's MCA defaults live there).
export OPAL_PREFIX=$prefix/usr
export OPAL_SYSCONFDIR=$prefix/etc/openmpi
# PMIx (an external library in Debian, prefix /usr/lib/x86_64-linux-gnu/pmix2) finds its plugins in
# PMIX_PKGLIBDIR (PMIX_PREFIX alone does not move them; without them: "PMIx was unable to find a
# usable compression library"); hwloc would load its plugins from /usr/lib/x86_64-linux-gnu/hwloc (not fetched:
# an empty folder of the prefix stands in, so no plugin of another hwloc is ever loaded).
export PMIX_PREFIX=$lib/pmix2 PMIX_PKGLIBDIR=$lib/pmix2/lib/pmix
export HWLOC_PLUGINS_PATH=$lib/hwloc
export CMAKE_PREFIX_PATH=$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}
export PKG_CONFIG_PATH=$lib/pkgconfig:$prefix/usr/share/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}
# Containers run as root; a single machine has no ssh: OpenMPI must not look for one.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm_rsh_agent=false
EOF
size=$(du -sh "$prefix" | cut -f1)
log "done: $prefix ($size). Next: source $prefix/env.sh"
