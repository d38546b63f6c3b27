// Proves the MPI test plumbing: collectives work under ctest's mpirun, and a failure on
// a single rank fails the whole run (see the mpi_plumbing_detects_rank_failure test).
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <mpi.h>

TEST(MpiPlumbing, AllreduceSumsRanks) {
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int sum = 0;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sum, size * (size - 1) / 2);
  EXPECT_GE(size, 2) << "the MPI tests are meant to run on several ranks";
}

TEST(MpiPlumbing, InjectedFailureOnOneRank) {
  const char* fail_rank = std::getenv("FEDCHAIN_TEST_FAIL_RANK");
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (fail_rank != nullptr) {
    EXPECT_NE(rank, std::stoi(fail_rank)) << "failure injected on purpose on this rank";
  }
}
