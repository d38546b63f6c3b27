// GoogleTest main for tests run under mpirun: every rank runs every test; the run fails
// when any rank fails (MPI_Allreduce with MAX), and rank 0 names the failing ranks.
// Ranks other than 0 print only their failures, prefixed with their rank.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpi.h>

namespace {

class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  testing::InitGoogleTest(&argc, argv);
  if (rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  const int local = RUN_ALL_TESTS() == 0 ? 0 : 1;
  std::vector<int> all(static_cast<std::size_t>(size));
  MPI_Gather(&local, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int global = 0;
  MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) {
    if (global == 0) {
      std::printf("mpi-gtest: passed on all %d ranks\n", size);
    } else {
      std::string failing;
      for (int r = 0; r < size; ++r) {
        if (all[static_cast<std::size_t>(r)] == 0) continue;
        if (!failing.empty()) failing.push_back(',');
        failing.append(std::to_string(r));
      }
      std::printf("mpi-gtest: FAILED on ranks: %s (of %d)\n", failing.c_str(), size);
    }
    std::fflush(stdout);
  }
  MPI_Finalize();
  return global;
}
