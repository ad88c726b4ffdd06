# Test helpers. Labels: unit (single process), mpi (under mpirun), e2e (the clinfm binary and
# scripts), gpu (needs a CUDA device; skipped with exit code 77 when there is none).
find_package(GTest REQUIRED)
include(GoogleTest)

# Runs as root in containers and CI: OpenMPI refuses that unless told it is intended.
execute_process(COMMAND id -u OUTPUT_VARIABLE CLINFM_UID OUTPUT_STRIP_TRAILING_WHITESPACE)
set(CLINFM_MPIEXEC_FLAGS ${MPIEXEC_NUMPROC_FLAG})
set(CLINFM_MPIEXEC_PREFLAGS --oversubscribe)
if(CLINFM_UID STREQUAL "0")
  list(APPEND CLINFM_MPIEXEC_PREFLAGS --allow-run-as-root)
endif()

# clinfm_add_unit_test(NAME SOURCES... LIBS... ) : a GoogleTest binary, each TEST its own ctest.
function(clinfm_add_unit_test name)
  cmake_parse_arguments(T "" "LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main clinfm_options)
  target_compile_definitions(${name} PRIVATE CLINFM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             CLINFM_BINARY_DIR="${PROJECT_BINARY_DIR}"
                                             CLINFM_PYTHON="${CLINFM_PYTHON}")
  gtest_discover_tests(${name} PROPERTIES LABELS ${T_LABEL} DISCOVERY_TIMEOUT 60)
endfunction()

# clinfm_add_mpi_test(NAME NP COMMAND cmd args...): `mpirun -np NP --oversubscribe cmd args`.
function(clinfm_add_mpi_test name np)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_test(NAME ${name}
           COMMAND ${MPIEXEC_EXECUTABLE} ${CLINFM_MPIEXEC_FLAGS} ${np} ${CLINFM_MPIEXEC_PREFLAGS}
                   ${MPIEXEC_PREFLAGS} ${T_COMMAND} ${MPIEXEC_POSTFLAGS})
  set_tests_properties(${name} PROPERTIES LABELS mpi TIMEOUT ${T_TIMEOUT} PROCESSORS ${np})
endfunction()

# Called last in each tests/*/CMakeLists.txt: the folder's script tests find the project's Python
# (torch 2.11, numpy, h5py, scikit-learn) in CLINFM_PYTHON. GoogleTest binaries get it compiled in.
function(clinfm_tests_use_project_python)
  get_property(tests DIRECTORY PROPERTY TESTS)
  if(tests)
    set_property(TEST ${tests} APPEND PROPERTY ENVIRONMENT "CLINFM_PYTHON=${CLINFM_PYTHON}")
  endif()
endfunction()
