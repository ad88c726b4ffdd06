// A job in which one rank throws while the others wait in a collective for it. Used by
// abort_test.sh to check that run_guarded ends the whole job instead of leaving ranks hanging.
//   mpi_fault_probe FAILING_RANK
#include <mpi.h>
#include <unistd.h>

#include <cstdlib>

#include "common/check.h"
#include "common/log.h"
#include "trainer/comm/launch.h"

int main(int argc, char** argv) {
  const int failing_rank = argc > 1 ? std::atoi(argv[1]) : 1;
  return clinfm::run_guarded([&] {
    const clinfm::WorldInfo w = clinfm::init_distributed(&argc, &argv);
    if (w.rank == failing_rank) {
      ::usleep(200 * 1000);  // let the other ranks reach the barrier first
      CLINFM_CHECK(false, "injected failure on rank {} of {}", w.rank, w.world_size);
    }
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));  // never completes: the failing rank never arrives
    clinfm::log_info("barrier passed (this must not happen)");
    return 0;
  });
}
