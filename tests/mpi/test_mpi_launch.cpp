// Runs under mpirun with 1, 2 and 4 ranks: world info from MPI, log context, MPI_CHECK on a
// real failing MPI call.
#include <gtest/gtest.h>
#include <mpi.h>

#include "common/check.h"
#include "common/log.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace {

TEST(MpiLaunch, WorldMatchesMpi) {
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world().rank, rank);
  EXPECT_EQ(world().world_size, size);
  EXPECT_GE(world().local_rank, 0);
  EXPECT_LT(world().local_rank, world().local_size);
  EXPECT_EQ(log_context().rank, rank);
  EXPECT_EQ(log_context().world_size, size);
  // Every rank agrees on the world size and the ranks are a permutation of 0..N-1.
  int rank_sum = 0;
  MPI_CHECK(MPI_Allreduce(&rank, &rank_sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
  EXPECT_EQ(rank_sum, size * (size - 1) / 2);
}

TEST(MpiLaunch, LauncherEnvironmentNamesTheRank) { EXPECT_EQ(launcher_rank_from_env(), world().rank); }

TEST(MpiLaunch, MpiCheckReportsLibraryError) {
  int value = 1;
  try {
    // Rank world_size does not exist: MPI returns MPI_ERR_RANK (errors return, not abort).
    MPI_CHECK(MPI_Send(&value, 1, MPI_INT, world().world_size, 0, MPI_COMM_WORLD));
    FAIL() << "MPI_Send to a rank that does not exist succeeded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MPI call failed"), std::string::npos) << what;
    EXPECT_NE(what.find("MPI_Send(&value"), std::string::npos) << what;
    EXPECT_NE(what.find("rank"), std::string::npos) << what;
    EXPECT_NE(e.where().find(fmt::format("rank {}/{}", world().rank, world().world_size)), std::string::npos);
    EXPECT_NE(e.hint().find("mpirun"), std::string::npos);
  }
}

}  // namespace
}  // namespace clinfm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  clinfm::init_distributed(&argc, &argv);
  const int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  clinfm::finalize_distributed();
  return any_failed;
}
