# Data-parallel training: reducer and divergence check under mpirun, and the equivalence of
# training on 1, 2 and 4 ranks (included from tests/mpi/CMakeLists.txt).
add_executable(test_ddp test_ddp.cpp)
target_link_libraries(test_ddp PRIVATE clinfm_trainer GTest::gtest clinfm_options)
target_precompile_headers(test_ddp REUSE_FROM clinfm_models)
foreach(np 2 4)
  clinfm_add_mpi_test(mpi_ddp_np${np} ${np} COMMAND $<TARGET_FILE:test_ddp>)
endforeach()
add_test(NAME mpi_ddp_equivalence
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/ddp_equivalence.sh $<TARGET_FILE:clinfm> ${PROJECT_SOURCE_DIR}
                 ${MPIEXEC_EXECUTABLE} ${CLINFM_MPIEXEC_PREFLAGS})
set_tests_properties(mpi_ddp_equivalence PROPERTIES LABELS mpi TIMEOUT 900 PROCESSORS 2)

# Checkpoints and resume (issue #6): kill -9 at random steps, preemption, damaged checkpoints,
# write failures, NaN steps, config changes, and resuming on another number of ranks.
foreach(script resume_kill9 resume_faults resume_elastic)
  add_test(NAME mpi_${script}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${script}.sh $<TARGET_FILE:clinfm> ${PROJECT_SOURCE_DIR}
                   ${MPIEXEC_EXECUTABLE} ${CLINFM_MPIEXEC_PREFLAGS})
  set_tests_properties(mpi_${script} PROPERTIES LABELS mpi TIMEOUT 900 PROCESSORS 2)
endforeach()

# Run-folder safety (issue #19): a fresh run into another run's folder, two jobs on one folder,
# a stale lock after kill -9, ranks that do not share the folder.
add_test(NAME mpi_run_folder
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_folder_test.sh $<TARGET_FILE:clinfm> ${PROJECT_SOURCE_DIR}
                 ${MPIEXEC_EXECUTABLE} ${CLINFM_MPIEXEC_PREFLAGS})
set_tests_properties(mpi_run_folder PROPERTIES LABELS mpi TIMEOUT 900 PROCESSORS 2)
