#include <unistd.h>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fedchain/core/durable_file.hpp"
#include "fedchain/io/run_dir.hpp"
#include "temp_dir.hpp"

namespace fedchain::io {
namespace {

TEST(RunDir, CreateWritesJobAndFolders) {
  testing::TempDir tmp;
  auto dir = RunDir::create(tmp.path() / "run", "[job]\nseed = 1\n");
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_TRUE(std::filesystem::is_directory(dir->chain_dir()));
  EXPECT_TRUE(std::filesystem::is_directory(dir->checkpoints_dir()));
  EXPECT_TRUE(std::filesystem::exists(dir->job_file()));
  EXPECT_EQ(dir->checkpoint_path(12).filename(), "height-00000012.h5");
}

TEST(RunDir, RefusesToOverwriteAnExistingRun) {
  testing::TempDir tmp;
  ASSERT_TRUE(RunDir::create(tmp.path(), "a = 1\n"));
  auto again = RunDir::create(tmp.path(), "a = 2\n");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kConfig);
  EXPECT_NE(again.error().message.find("--resume"), std::string::npos);
  std::ifstream job(tmp.path() / "job.toml");
  std::string line;
  std::getline(job, line);
  EXPECT_EQ(line, "a = 1") << "the existing run must be left untouched";
}

// Two jobs appending to one chain would replace or interleave each other's blocks. The
// lock is per open file, so a second open in this same process stands for another job.
TEST(RunDir, ASecondJobOnALockedRunDirectoryIsRefusedNamingTheHolder) {
  testing::TempDir tmp;
  {
    auto first = RunDir::create(tmp.path(), "a = 1\n");
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_TRUE(first->announce_holder());
    for (const bool resume : {true, false}) {
      auto second =
          resume ? RunDir::resume(tmp.path(), "a = 1\n") : RunDir::create(tmp.path(), "a = 1\n");
      ASSERT_FALSE(second);
      EXPECT_EQ(second.error().kind, ErrorKind::kConfig);
      EXPECT_NE(second.error().message.find(
                    fmt::format("is in use by another fedchain job (pid {} on ", ::getpid())),
                std::string::npos)
          << second.error().message;
    }
    const RunDir copy = *first;  // copies share the lock; it goes with the last of them
    first = config_error("dropped");
    EXPECT_FALSE(RunDir::resume(tmp.path(), "a = 1\n"));
  }
  EXPECT_TRUE(RunDir::resume(tmp.path(), "a = 1\n")) << "the lock went with its job";
  EXPECT_TRUE(RunDir::open(tmp.path())) << "readers (verify, inspect) take no lock";
}

// `fedchain report` says whether a job is still writing the run, without taking its lock.
TEST(RunDir, TheHolderIsSeenWithoutTakingTheLock) {
  testing::TempDir tmp;
  EXPECT_FALSE(RunLock::holder(tmp.path())) << "no run.lock at all";
  {
    auto job = RunDir::create(tmp.path(), "a = 1\n");
    ASSERT_TRUE(job) << job.error().message;
    ASSERT_TRUE(job->announce_holder());
    const auto holder = RunLock::holder(tmp.path());
    ASSERT_TRUE(holder);
    EXPECT_EQ(holder->rfind(fmt::format("pid {} on ", ::getpid()), 0), 0u) << *holder;
    EXPECT_TRUE(RunLock::holder(tmp.path())) << "asking twice does not take or drop the lock";
    EXPECT_FALSE(RunDir::resume(tmp.path(), "a = 1\n")) << "the job still holds it";
  }
  EXPECT_FALSE(RunLock::holder(tmp.path())) << "the job ended: run.lock is left, unheld";
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "run.lock"));
}

TEST(RunDir, ResumeRefusesAnotherJobNamingTheLine) {
  testing::TempDir tmp;
  ASSERT_TRUE(RunDir::create(tmp.path(), "x = 1\ny = 2\n"));
  EXPECT_TRUE(RunDir::resume(tmp.path(), "x = 1\ny = 2\n"));
  auto other = RunDir::resume(tmp.path(), "x = 1\ny = 3\n");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::kConfig);
  EXPECT_NE(other.error().message.find("line 2: stored 'y = 2', given 'y = 3'"), std::string::npos)
      << other.error().message;
}

TEST(RunDir, UnwritableLocationIsAConfigError) {
  testing::TempDir tmp;
  std::ofstream(tmp.path() / "a-file") << "not a directory";
  auto dir = RunDir::create(tmp.path() / "a-file" / "run", "x = 1\n");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().kind, ErrorKind::kConfig);
  EXPECT_NE(dir.error().message.find("writable"), std::string::npos) << dir.error().message;
}

TEST(RunDir, HoldsRunSeesAJobFileOrAChainFile) {
  testing::TempDir tmp;
  EXPECT_FALSE(RunDir::holds_run(tmp.path() / "missing"));
  EXPECT_FALSE(RunDir::holds_run(tmp.path())) << "an empty folder holds no run";
  std::filesystem::create_directories(tmp.path() / "damaged" / "chain");
  std::ofstream(tmp.path() / "damaged" / "chain" / "blocks.log") << "x";
  EXPECT_TRUE(RunDir::holds_run(tmp.path() / "damaged")) << "a chain without job.toml";
  ASSERT_TRUE(RunDir::create(tmp.path() / "run", "x = 1\n"));
  EXPECT_TRUE(RunDir::holds_run(tmp.path() / "run"));
}

TEST(RunDir, OpenNeedsAJobFile) {
  testing::TempDir tmp;
  EXPECT_FALSE(RunDir::open(tmp.path()));
  EXPECT_FALSE(RunDir::open(tmp.path() / "missing"));
}

TEST(DurableFile, ReplacesAtomicallyAndLeavesNoTempFile) {
  testing::TempDir tmp;
  const auto path = tmp.path() / "f.txt";
  ASSERT_TRUE(write_file_atomically(path, as_bytes("one")));
  ASSERT_TRUE(write_file_atomically(path, as_bytes("two")));
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "two");
  EXPECT_FALSE(std::filesystem::exists(temp_path_for(path)));
  EXPECT_FALSE(write_file_atomically(tmp.path() / "no" / "such" / "dir", as_bytes("x")));
}

}  // namespace
}  // namespace fedchain::io
