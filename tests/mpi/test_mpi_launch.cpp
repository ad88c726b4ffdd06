// Runs under mpirun with 1, 2 and 4 ranks: world info from MPI, log context, MPI_CHECK on a
// real failing MPI call, and the table of launcher variables read before MPI starts, with each
// launcher's variables set by the test (those mpirun set are put back after each test).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

// Clears every variable launch.cpp reads about the launcher (and SLURM_NTASKS, which it must
// not read) for one test, and restores them after it.
class LauncherEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<const char*> names = {"OMPI_MCA_orte_hnp_uri", "SLURM_STEP_ID", "SLURM_NTASKS"};
    for (const LauncherVariables& launcher : launcher_variables()) {
      for (const char* name : {launcher.rank, launcher.size, launcher.local_rank, launcher.local_size})
        if (name != nullptr) names.push_back(name);
    }
    for (const char* name : names) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  static void set(std::initializer_list<std::pair<const char*, const char*>> variables) {
    for (const auto& [name, value] : variables) setenv(name, value, 1);
  }
  static void expect_read(int rank, int size, int local_rank, int local_size) {
    EXPECT_EQ(launcher_rank_from_env(), rank);
    EXPECT_EQ(launcher_size_from_env(), size);
    EXPECT_EQ(launcher_local_rank_from_env(), local_rank);
    EXPECT_EQ(launcher_local_size_from_env(), local_size);
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(LauncherEnv, EveryLauncherNamesItsRankAndSizeAndNoVariableTwice) {
  std::set<std::string> seen;
  for (const LauncherVariables& launcher : launcher_variables()) {
    ASSERT_NE(launcher.rank, nullptr);
    ASSERT_NE(launcher.size, nullptr);
    for (const char* name : {launcher.rank, launcher.size, launcher.local_rank, launcher.local_size}) {
      if (name == nullptr) continue;
      EXPECT_TRUE(seen.insert(name).second) << name << " is in two launchers";
    }
  }
}

TEST_F(LauncherEnv, APlainProcessHasNoLauncher) {
  expect_read(-1, -1, -1, -1);
  EXPECT_EQ(launcher_from_env(), Launcher::kNone);
}

TEST_F(LauncherEnv, OpenMpiMpirunGivesAllFour) {
  set({{"OMPI_COMM_WORLD_RANK", "3"},
       {"OMPI_COMM_WORLD_SIZE", "4"},
       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
       {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
       {"PMIX_RANK", "3"}});
  expect_read(3, 4, 1, 2);
  EXPECT_EQ(launcher_from_env(), Launcher::kOpenMpi);
}

TEST_F(LauncherEnv, SrunSizeIsTheStepsTaskCountNotTheJobs) {
  // srun -n 6 --mpi=pmix inside a job of 16 tasks: Slurm's PMIx plugin sets PMIX_RANK too.
  set({{"SLURM_PROCID", "5"},
       {"SLURM_STEP_NUM_TASKS", "6"},
       {"SLURM_NTASKS", "16"},
       {"SLURM_LOCALID", "1"},
       {"SLURM_STEP_ID", "0"},
       {"PMIX_RANK", "5"}});
  expect_read(5, 6, 1, -1);  // no local size from Slurm: MPI gives it
  EXPECT_EQ(launcher_from_env(), Launcher::kSlurm);
}

TEST_F(LauncherEnv, TheBatchScriptOfASlurmJobIsNoLaunchedTask) {
  set({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"}});
  expect_read(0, -1, -1, -1);  // a world of one for the log, not of 16
  EXPECT_EQ(launcher_from_env(), Launcher::kNone);
}

TEST_F(LauncherEnv, HydraMpiexecGivesAllFour) {
  set({{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "0"}, {"MPI_LOCALNRANKS", "2"}});
  expect_read(2, 4, 0, 2);
  EXPECT_EQ(launcher_from_env(), Launcher::kPmi);
}

TEST_F(LauncherEnv, RanksOfADaemonThatSrunStartedReadTheirOwnLauncher) {
  // Intel MPI's mpirun in a job of 2 nodes: srun started one Hydra proxy per node, and every
  // rank inherits its proxy's Slurm variables (task 0 of 2 on node 0).
  set({{"PMI_RANK", "3"},
       {"PMI_SIZE", "8"},
       {"MPI_LOCALRANKID", "3"},
       {"MPI_LOCALNRANKS", "4"},
       {"SLURM_PROCID", "0"},
       {"SLURM_STEP_NUM_TASKS", "2"},
       {"SLURM_LOCALID", "0"},
       {"SLURM_STEP_ID", "1"}});
  expect_read(3, 8, 3, 4);
  // Open MPI 4's mpirun in the same place: its ranks name mpirun's daemon.
  set({{"OMPI_COMM_WORLD_RANK", "6"},
       {"OMPI_COMM_WORLD_SIZE", "8"},
       {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
       {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
       {"OMPI_MCA_orte_hnp_uri", "1234.0;tcp://10.0.0.1:5000"}});
  expect_read(6, 8, 2, 4);
  EXPECT_EQ(launcher_from_env(), Launcher::kOpenMpi);
}

TEST_F(LauncherEnv, APmixLauncherGivesOnlyTheRank) {
  set({{"PMIX_RANK", "1"}});
  expect_read(1, -1, -1, -1);
  EXPECT_EQ(launcher_from_env(), Launcher::kPmix);
}

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
