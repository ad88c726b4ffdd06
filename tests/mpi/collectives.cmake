# The MPI communicator's collectives (tests/mpi/test_collectives.cpp) under mpirun with 1, 2 and
# 4 ranks, and the timeout of an asynchronous all-reduce that one rank never joins (the job must
# end with the timeout message; ctest passes on that message, whatever the exit code).
# Included from tests/mpi/CMakeLists.txt.
add_executable(test_collectives ${CMAKE_CURRENT_LIST_DIR}/test_collectives.cpp)
target_link_libraries(test_collectives PRIVATE clinfm_trainer GTest::gtest clinfm_options)
target_precompile_headers(test_collectives REUSE_FROM clinfm_models)
foreach(np 1 2 4)
  clinfm_add_mpi_test(mpi_collectives_np${np} ${np} COMMAND $<TARGET_FILE:test_collectives>)
endforeach()

clinfm_add_mpi_test(mpi_collectives_timeout_np2 2 TIMEOUT 60 COMMAND $<TARGET_FILE:test_collectives> --timeout-probe)
set_tests_properties(mpi_collectives_timeout_np2 PROPERTIES
                     PASS_REGULAR_EXPRESSION "all-reduce of [0-9]+ bytes has not completed after 2 s")
