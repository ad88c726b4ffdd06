# Warnings and sanitizers for clinfm's own targets. Third-party headers are included as SYSTEM
# so their warnings do not drown ours.
add_library(clinfm_options INTERFACE)
target_compile_options(clinfm_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(CLINFM_WERROR)
  target_compile_options(clinfm_options INTERFACE -Werror)
endif()

set(_clinfm_san "")
if(CLINFM_ASAN)
  list(APPEND _clinfm_san address)
endif()
if(CLINFM_UBSAN)
  list(APPEND _clinfm_san undefined)
endif()
if(_clinfm_san)
  list(JOIN _clinfm_san "," _clinfm_san_list)
  # Applied globally so that every object, test and the executable agree on the runtime.
  add_compile_options(-fsanitize=${_clinfm_san_list} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_clinfm_san_list})
endif()

# libFuzzer (preset fuzz): coverage instrumentation on every object; the fuzz targets link the
# fuzzer's main (tests/fuzz/CMakeLists.txt).
if(CLINFM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CLINFM_FUZZ needs clang (cmake --preset fuzz; apt-get install clang libclang-rt-14-dev)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
