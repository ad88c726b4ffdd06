#!/usr/bin/env bash
# Checks a prefix made by scripts/gpu/unpack.sh, on any x86-64 machine (the GPU machine, or a
# Debian machine that has the same packages installed in /usr):
#   1. mpirun -np 2 hostname runs from the prefix, and every shared object that mpirun and its
#      children load (LD_DEBUG=libs) resolves into the prefix or the C/C++ base libraries;
#   2. a small CMake project finds yaml-cpp, fmt, HDF5 (C), MPI (CXX), nlohmann_json, CLI11, GTest
#      and ZLIB inside the prefix (CMAKE_IGNORE_PREFIX_PATH=/usr), builds, and its program runs
#      under the prefix's mpirun on 2 ranks, writing and reading an HDF5 file.
#   scripts/gpu/verify_prefix.sh PREFIX [--isolate]
# --isolate (root, where unshare works): runs both inside a private mount namespace in which the
# machine's own copies of these libraries, headers, CMake files and tools are hidden (empty
# folders and /dev/null mounted over them), so that nothing can silently come from /usr.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: verify_prefix.sh PREFIX [--isolate]" >&2; exit 2; }
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${2:-}" = --isolate ]; then
  exec unshare -m bash -c '
    set -e
    mkdir -p /tmp/clinfm-empty
    ma=/usr/lib/x86_64-linux-gnu n=0
    for d in $ma/openmpi $ma/pmix2 $ma/hwloc $ma/hdf5 $ma/cmake /usr/share/cmake /usr/share/openmpi \
             /etc/openmpi /usr/include/hdf5 /usr/include/yaml-cpp /usr/include/fmt /usr/include/nlohmann \
             /usr/include/CLI /usr/include/gtest; do
      [ -d "$d" ] && mount --bind /tmp/clinfm-empty "$d" && n=$((n + 1))
    done
    for f in $(ls $ma/lib{mpi,open-pal,open-rte,mca_common,pmix,hwloc,event,hdf5,yaml-cpp,fmt,sz,aec,fabric,ucp,uct,ucs,ucm,ibverbs,rdmacm,psm,nl-3,nl-route-3}*.so* \
               /lib/x86_64-linux-gnu/libnl-*.so* /usr/bin/{orterun,opal_wrapper,ompi_info,h5cc,h5dump} 2>/dev/null | xargs -r realpath | sort -u); do
      mount --bind /dev/null "$f" && n=$((n + 1))
    done
    echo "verify_prefix.sh: isolated: $n host folders/files hidden"
    exec bash "$0" "$1"' "$here/verify_prefix.sh" "$prefix"
fi

# shellcheck disable=SC1091
source "$prefix/env.sh"
work=$(mktemp -d /tmp/clinfm-verify.XXXXXX)
# ... and the generic libraries unpack.sh left to the machine's own copies (PREFIX/shadowed).
not_ok() {  # stdin: paths; stdout: those neither in the prefix, nor base, nor shadowed
  while read -r p; do
    case $p in "$prefix"/*) continue ;; esac
    [[ $p =~ $base ]] && continue
    [ -e "$prefix/shadowed/$(basename "$p")" ] && continue
    echo "$p"
  done
}
fail() { echo "verify_prefix.sh: FAIL: $*" >&2; exit 1; }
# Allowed outside the prefix: the C/C++ run time and base libraries the machine must have.
base='^(/usr)?/lib(64)?(/x86_64-linux-gnu)?/(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|libz|libudev|libutil|libresolv|libcap|libzstd|liblzma|libgomp|libatomic|libssl|libcrypto|libcurl)[.-]'

echo "== 1. mpirun from the prefix"
echo "mpirun: $(command -v mpirun)"
case $(command -v mpirun) in "$prefix"/*) ;; *) fail "mpirun is not the prefix's" ;; esac
mkdir -p "$work/ld"
LD_DEBUG=libs LD_DEBUG_OUTPUT=$work/ld/d mpirun --allow-run-as-root --oversubscribe -np 2 hostname
cat "$work"/ld/d.* | sed -n 's/.*calling init: //p' | sort -u >"$work/loaded.txt"
echo "loaded by mpirun and its children: $(wc -l <"$work/loaded.txt") objects," \
     "$(grep -c "^$prefix/" "$work/loaded.txt") of them in the prefix" \
     "($(grep -c "openmpi3/mca_" "$work/loaded.txt") OpenMPI plugins, $(grep -c "pmix/pmix_mca_" "$work/loaded.txt") PMIx plugins)"
grep -E 'libmpi|libopen-|libpmix|libhwloc|libevent|pmix_mca' "$work/loaded.txt" | sed 's/^/  /' | head -12
outside=$(not_ok <"$work/loaded.txt")
[ -z "$outside" ] || fail "loaded from outside the prefix: $outside"
grep -q "pmix/pmix_mca_" "$work/loaded.txt" || fail "no PMIx plugin was loaded from the prefix"
echo "outside the prefix only: $(grep -v "^$prefix/" "$work/loaded.txt" | xargs -r -n1 basename | paste -sd' ')"

echo "== 2. CMake project against the prefix"
mkdir -p "$work/proj"
cat >"$work/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.23)
project(prefix_check CXX C)
set(CMAKE_CXX_STANDARD 17)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
find_package(ZLIB REQUIRED)
foreach(v yaml-cpp_DIR fmt_DIR nlohmann_json_DIR CLI11_DIR GTest_DIR HDF5_INCLUDE_DIRS HDF5_C_LIBRARIES
          MPI_CXX_COMPILER MPI_CXX_INCLUDE_DIRS MPI_CXX_LIBRARIES MPIEXEC_EXECUTABLE ZLIB_INCLUDE_DIRS ZLIB_LIBRARIES)
  message(STATUS "FOUND ${v} = ${${v}}")
endforeach()
get_target_property(y yaml-cpp IMPORTED_LOCATION_NONE)
get_target_property(f fmt::fmt IMPORTED_LOCATION_NONE)
get_target_property(g GTest::gtest IMPORTED_LOCATION_NONE)
message(STATUS "FOUND yaml-cpp library = ${y}")
message(STATUS "FOUND fmt library = ${f}")
message(STATUS "FOUND gtest library = ${g}")
add_executable(hello hello.cpp)
target_link_libraries(hello PRIVATE yaml-cpp fmt::fmt MPI::MPI_CXX nlohmann_json::nlohmann_json CLI11::CLI11
                      ${HDF5_C_LIBRARIES} ZLIB::ZLIB)
target_include_directories(hello PRIVATE ${HDF5_INCLUDE_DIRS})
add_executable(gtest_hello gtest_hello.cpp)
target_link_libraries(gtest_hello PRIVATE GTest::gtest GTest::gtest_main)
EOF
cat >"$work/proj/hello.cpp" <<'EOF'
#include <hdf5.h>
#include <mpi.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  CLI::App app{"prefix check"};
  std::string dir = ".";
  app.add_option("--dir", dir);
  CLI11_PARSE(app, argc, argv);
  int sum = 0, one = 1;
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  const YAML::Node y = YAML::Load("ranks: 2");
  const std::string path = fmt::format("{}/rank{}.h5", dir, rank);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = 4;
  int data[4] = {rank, sum, 7, 8}, back[4] = {};
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t set = H5Dcreate2(file, "x", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dread(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back);
  H5Dclose(set); H5Sclose(space); H5Fclose(file);
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  nlohmann::json j = {{"rank", rank}, {"size", size}, {"allreduce", sum}, {"yaml", y["ranks"].as<int>()},
                      {"hdf5", fmt::format("{}.{}.{}", maj, min, rel)}, {"hdf5_roundtrip", back[1] == sum},
                      {"zlib", zlibVersion()}};
  fmt::print("{}\n", j.dump());
  MPI_Finalize();
  return (sum == size && back[1] == sum && y["ranks"].as<int>() == 2) ? 0 : 1;
}
EOF
cat >"$work/proj/gtest_hello.cpp" <<'EOF'
#include <gtest/gtest.h>
TEST(Prefix, Works) { EXPECT_EQ(1 + 1, 2); }
EOF
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$work/proj" -B "$work/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_IGNORE_PREFIX_PATH=/usr >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configure"; }
grep "FOUND " "$work/configure.log" | sed 's/^-- //'
bad=$(grep "FOUND " "$work/configure.log" | grep -v "FOUND [A-Za-z_-]* = *$" |
      sed 's/.* = //' | tr ';' '\n' | grep '^/' | not_ok || true)
[ -z "$bad" ] || fail "found outside the prefix: $bad"
cmake --build "$work/build" -j 2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
echo "hello links: $(ldd "$work/build/hello" | awk '/=>/ {print $3}' | grep -E 'mpi|hdf5|yaml|fmt|pmix|hwloc|sz|aec' | paste -sd' ')"
bad=$(ldd "$work/build/hello" | awk '/=>/ {print $3}' | not_ok)
[ -z "$bad" ] || fail "hello resolves outside the prefix: $bad"
mpirun --allow-run-as-root --oversubscribe -np 2 "$work/build/hello" --dir "$work" 2>&1 | tee "$work/hello.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "hello under mpirun"
# OpenMPI says so when a plugin of its own cannot be opened (a library it needs is missing).
! grep -q "unable to open" "$work/hello.log" || fail "an OpenMPI plugin could not be opened"
"$work/build/gtest_hello" --gtest_brief=1 | tail -1
echo "verify_prefix.sh: OK ($work)"
