# NcclCore (trainer/comm/nccl_core.h) checked on GPUs under mpirun with one rank; building
# nccl_core_check wherever clinfm_nccl_core exists is the CI proof that the NCCL layer compiles
# and links. Without a GPU the test exits 77 and ctest reports it skipped.
# Included from tests/compile/CMakeLists.txt.
if(TARGET clinfm_nccl_core)
  add_executable(nccl_core_check ${CMAKE_CURRENT_LIST_DIR}/nccl_core_check.cpp)
  target_link_libraries(nccl_core_check PRIVATE clinfm_nccl_core clinfm_options)
  clinfm_add_mpi_test(gpu_nccl_core 1 COMMAND $<TARGET_FILE:nccl_core_check>)
  # After the helper: it labels its tests mpi.
  set_tests_properties(gpu_nccl_core PROPERTIES LABELS gpu SKIP_RETURN_CODE 77)
endif()
