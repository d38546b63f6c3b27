// The update archive: round trips, and what a crash, a torn file or a missing height
// looks like to its readers (the verifier and a resuming run).
#include "fedchain/io/update_archive.hpp"

#include <unistd.h>

#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fedchain::io {
namespace {

ArchivedUpdate update(std::uint32_t client, std::uint64_t height, std::int32_t base) {
  ArchivedUpdate u;
  u.client = client;
  u.height = height;
  u.chain_id.bytes[0] = 0xc1;
  u.update_root.bytes[31] = static_cast<std::uint8_t>(height);
  u.values = {base,
              -base,
              0,
              std::numeric_limits<std::int32_t>::max(),
              -std::numeric_limits<std::int32_t>::max(),
              7};
  return u;
}

TEST(UpdateArchive, RoundTripsValuesAndAttributes) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path() / "updates");
  const auto written = update(3, 12, 1234567);
  ASSERT_TRUE(archive.write(written));
  EXPECT_EQ(archive.path(3, 12), tmp.path() / "updates" / "client-0003" / "height-00000012.h5");
  EXPECT_TRUE(std::filesystem::exists(archive.path(3, 12)));
  auto back = archive.read(3, 12);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->client, 3u);
  EXPECT_EQ(back->height, 12u);
  EXPECT_EQ(back->chain_id, written.chain_id);
  EXPECT_EQ(back->update_root, written.update_root);
  EXPECT_EQ(back->values, written.values);
}

TEST(UpdateArchive, AWriteReplacesTheFileWhole) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  ASSERT_TRUE(archive.write(update(0, 1, 5)));
  auto replacement = update(0, 1, 9);
  replacement.values.resize(3);
  ASSERT_TRUE(archive.write(replacement));
  auto back = archive.read(0, 1);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->values, replacement.values);
}

TEST(UpdateArchive, AMissingHeightOrRankIsNamed) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  ASSERT_TRUE(archive.write(update(1, 1, 5)));
  ASSERT_TRUE(archive.write(update(1, 3, 5)));
  auto missing = archive.read(1, 2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "archive-missing");
  EXPECT_EQ(missing.error().kind, ErrorKind::kVerification);
  EXPECT_NE(missing.error().message.find("client 1's update for height 2"), std::string::npos)
      << missing.error().message;
  EXPECT_EQ(archive.read(2, 1).error().code, "archive-missing");
  EXPECT_EQ(archive.heights(1), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_TRUE(archive.heights(2).empty());
}

TEST(UpdateArchive, ATornOrForeignFileIsRefusedAndAWriteRepairsIt) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  ASSERT_TRUE(archive.write(update(0, 4, 5)));
  const auto file = archive.path(0, 4);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  auto torn = archive.read(0, 4);
  ASSERT_FALSE(torn);
  EXPECT_EQ(torn.error().code, "archive-unreadable");
  EXPECT_NE(torn.error().message.find(file.string()), std::string::npos);

  std::ofstream(archive.path(0, 5)) << "not HDF5";
  EXPECT_EQ(archive.read(0, 5).error().code, "archive-unreadable");

  ASSERT_TRUE(archive.write(update(0, 4, 5)));
  auto repaired = archive.read(0, 4);
  ASSERT_TRUE(repaired) << repaired.error().message;
  EXPECT_EQ(repaired->values, update(0, 4, 5).values);
}

TEST(UpdateArchive, AFileUnderAnotherHeightsNameIsRefused) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  ASSERT_TRUE(archive.write(update(2, 6, 5)));
  std::filesystem::copy_file(archive.path(2, 6), archive.path(2, 7));
  auto moved = archive.read(2, 7);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, "archive-mismatch");
}

TEST(UpdateArchive, RemovesOnlyWhatTheChainNeverCommitted) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  for (std::uint64_t h = 1; h <= 5; ++h) ASSERT_TRUE(archive.write(update(1, h, 100)));
  ASSERT_TRUE(archive.write(update(2, 5, 100)));  // another client's folder is not touched
  const auto stray = archive.client_dir(1) / "height-00000006.h5.tmp.4242";
  std::ofstream(stray) << "half an HDF5 file";
  auto removed = archive.remove_uncommitted(1, 3);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 3u);  // heights 4 and 5, and the temp file
  EXPECT_FALSE(std::filesystem::exists(stray));
  EXPECT_EQ(archive.heights(1), (std::vector<std::uint64_t>{1, 2, 3}));
  for (std::uint64_t h = 1; h <= 3; ++h) {
    auto kept = archive.read(1, h);
    ASSERT_TRUE(kept) << kept.error().message;
    EXPECT_EQ(kept->values, update(1, h, 100).values);
  }
  EXPECT_EQ(archive.heights(2), (std::vector<std::uint64_t>{5}));
  auto nothing = archive.remove_uncommitted(3, 0);  // a client that never wrote
  ASSERT_TRUE(nothing);
  EXPECT_EQ(*nothing, 0u);
}

TEST(UpdateArchive, AFailedWriteLeavesWhatWasThereIntact) {
  testing::TempDir tmp;
  const UpdateArchive archive(tmp.path());
  ASSERT_TRUE(archive.write(update(0, 1, 5)));
  // The temp name taken by a folder: HDF5 cannot create the file, as on a full disk.
  const auto temp = archive.path(0, 1).string() + ".tmp." + std::to_string(::getpid());
  std::filesystem::create_directories(temp);
  auto failed = archive.write(update(0, 1, 9));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find(archive.path(0, 1).string()), std::string::npos)
      << failed.error().message;
  auto kept = archive.read(0, 1);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(kept->values, update(0, 1, 5).values);

  const std::string blocker = "a file where the archive's folder should be";
  std::ofstream(tmp.path() / "blocked") << blocker;
  const UpdateArchive blocked(tmp.path() / "blocked");
  EXPECT_FALSE(blocked.write(update(0, 1, 5)));
  EXPECT_EQ(std::filesystem::file_size(tmp.path() / "blocked"), blocker.size());
}

}  // namespace
}  // namespace fedchain::io
