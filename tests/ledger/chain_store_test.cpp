// The chain store under crashes and tampering: a torn tail at every byte offset is cut
// off, every flipped byte is refused at the right height, and a forger who recomputes the
// checksums is still caught by verify at the height they touched.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/crc32c.hpp"
#include "fedchain/ledger/verify.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::TempDir;
using testing::TestChain;

// Byte ranges of each record in a chain file: record h starts at starts[h].
std::vector<std::size_t> record_starts(const Bytes& file) {
  std::vector<std::size_t> starts;
  std::size_t pos = kChainHeaderBytes;
  while (pos + kRecordHeaderBytes <= file.size()) {
    starts.push_back(pos);
    const std::uint32_t len = static_cast<std::uint32_t>(file[pos]) | file[pos + 1] << 8 |
                              file[pos + 2] << 16 | static_cast<std::uint32_t>(file[pos + 3]) << 24;
    pos += kRecordHeaderBytes + len;
  }
  return starts;
}

std::uint64_t height_of_byte(const std::vector<std::size_t>& starts, std::size_t byte) {
  std::uint64_t h = 0;
  while (h + 1 < starts.size() && starts[h + 1] <= byte) ++h;
  return h;
}

class ChainStoreTest : public ::testing::Test {
 protected:
  ChainStoreTest() : chain({.validators = 3}) {
    chain.add_block();
    chain.add_block({.evidence = {chain.make_evidence(2, 1)}});
    chain.write(dir.path());
    file = testing::read_bytes(ChainStore::log_path(dir.path()));
    starts = record_starts(file);
  }
  TempDir dir;
  TestChain chain;
  Bytes file;
  std::vector<std::size_t> starts;
};

TEST_F(ChainStoreTest, ReopensWhatWasAppended) {
  ASSERT_EQ(starts.size(), 3u);
  auto store = ChainStore::open(dir.path(), OpenMode::kRepair);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->height(), 2u);
  EXPECT_EQ(store->genesis(), chain.genesis());
  for (std::uint64_t h = 1; h <= 2; ++h) {
    EXPECT_EQ(store->at(h).block, chain.blocks()[h - 1].block);
    EXPECT_EQ(store->at(h).certificate, chain.blocks()[h - 1].certificate);
    EXPECT_EQ(store->at(h).offset, starts[h]);
  }
  EXPECT_FALSE(store->torn_tail());
  const VerifyReport report = verify_chain(*store);
  EXPECT_TRUE(report.ok()) << report.error->message;
  EXPECT_EQ(report.blocks_verified, 2u);
  EXPECT_EQ(report.final_state->hash(), chain.state().hash());

  // A block that does not link is refused and nothing is written.
  auto again = store->append(chain.blocks()[0].block, chain.blocks()[0].certificate);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "bad-height");
  EXPECT_EQ(testing::read_bytes(ChainStore::log_path(dir.path())), file);
  EXPECT_FALSE(ChainStore::create(dir.path(), chain.genesis()));
}

TEST_F(ChainStoreTest, TornLastRecordIsCutAtEveryOffset) {
  spdlog::set_level(spdlog::level::err);  // one torn-tail warning per offset otherwise
  const auto path = ChainStore::log_path(dir.path());
  const std::size_t last = starts.back();
  for (std::size_t cut = last; cut < file.size(); ++cut) {
    // In memory, every offset: the torn record is reported and the rest is intact.
    auto peek = ChainStore::parse(ByteView(file.data(), cut), "cut");
    ASSERT_TRUE(peek) << "cut at " << cut << ": " << peek.error().message;
    EXPECT_EQ(peek->height(), 1u);
    EXPECT_EQ(peek->torn_tail().has_value(), cut > last) << cut;
    if (cut > last) {
      EXPECT_EQ(peek->torn_tail()->height, 2u);
    }
    // On disk, a spread of offsets (each repair fsyncs): read-only leaves the file alone,
    // repair cuts it back to the last whole record, and appending works again.
    if (cut % 41 != 0 && cut != last + 1 && cut + 1 != file.size()) continue;
    testing::write_bytes(path, ByteView(file.data(), cut));
    ASSERT_TRUE(ChainStore::open(dir.path(), OpenMode::kReadOnly));
    EXPECT_EQ(testing::read_bytes(path).size(), cut);
    auto store = ChainStore::open(dir.path(), OpenMode::kRepair);
    ASSERT_TRUE(store) << "cut at " << cut << ": " << store.error().message;
    ASSERT_EQ(store->height(), 1u);
    EXPECT_EQ(testing::read_bytes(path).size(), last);
    const auto& b = chain.blocks()[1];
    ASSERT_TRUE(store->append(b.block, b.certificate));
    EXPECT_EQ(testing::read_bytes(path), file);
  }
  spdlog::set_level(spdlog::level::info);
}

TEST_F(ChainStoreTest, ZeroFilledTailIsTorn) {
  Bytes padded = file;
  padded.resize(file.size() + 4096, 0);
  auto store = ChainStore::parse(padded, "padded");
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->height(), 2u);
  EXPECT_EQ(store->torn_tail()->height, 3u);
}

TEST_F(ChainStoreTest, EveryFlippedByteIsRefusedAtItsHeight) {
  for (std::size_t i = 0; i < file.size(); ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    ChainDamage damage{999, 0};
    auto store = ChainStore::parse(bad, "flipped", &damage);
    ASSERT_FALSE(store) << "flipped byte " << i << " was accepted";
    EXPECT_EQ(store.error().kind, ErrorKind::kVerification);
    const std::uint64_t expected = i < kChainHeaderBytes ? 0 : height_of_byte(starts, i);
    EXPECT_EQ(damage.height, expected) << "byte " << i << ": " << store.error().message;
    EXPECT_NE(store.error().message.find(fmt::format("height {},", expected)), std::string::npos)
        << store.error().message;
  }
}

TEST_F(ChainStoreTest, DamagedLengthIsNotMistakenForATornTail) {
  for (std::size_t h = 1; h < starts.size(); ++h) {
    Bytes bad = file;
    bad[starts[h] + 2] ^= 0x10;  // the record now claims ~1 MiB more than the file holds
    ChainDamage damage;
    auto store = ChainStore::parse(bad, "long", &damage);
    ASSERT_FALSE(store) << "record " << h;
    EXPECT_EQ(store.error().code, "bad-record-length");
    EXPECT_EQ(damage.height, h);
  }
}

// Bytes overwritten at the start of a record that is not the last (a bad disk sector, a
// stray write): whatever its header now says, the records after it are still there, so
// it is damage, never a torn tail to cut off with the blocks behind it.
TEST(ChainStoreDamage, OverwrittenMiddleRecordIsRefusedNotCut) {
  TestChain chain({.validators = 3});
  for (int i = 0; i < 10; ++i) chain.add_block();
  TempDir dir;
  chain.write(dir.path());
  const auto path = ChainStore::log_path(dir.path());
  const Bytes file = testing::read_bytes(path);
  const auto starts = record_starts(file);
  ASSERT_EQ(starts.size(), 11u);
  std::mt19937_64 draw(7);
  for (int trial = 0; trial < 200; ++trial) {
    Bytes bad = file;
    const std::size_t h = 1 + static_cast<std::size_t>(draw() % 7);
    ASSERT_LT(starts[h] + 512, starts[10]) << "the last record must stay whole";
    for (std::size_t i = 0; i < 512 && starts[h] + i < bad.size(); ++i) {
      // Random bytes, and now and then a small length in front of them.
      bad[starts[h] + i] = static_cast<std::uint8_t>(draw());
    }
    if (trial % 2 == 1) bad[starts[h] + 3] = bad[starts[h] + 2] = 0;
    ChainDamage damage;
    auto store = ChainStore::parse(bad, "overwritten", &damage);
    ASSERT_FALSE(store) << "trial " << trial << ": record " << h << " taken for a torn tail";
    EXPECT_EQ(damage.height, h) << store.error().message;
    testing::write_bytes(path, bad);
    ASSERT_FALSE(ChainStore::open(dir.path(), OpenMode::kRepair));
    ASSERT_EQ(testing::read_bytes(path), bad) << "a refused chain file was changed";
  }
}

// A forger who rewrites a byte and fixes up the record's CRC-32C: open or verify still
// refuses, at the height of the record touched (a genesis edit may show as height 1, whose
// prev hash or signatures no longer match).
TEST_F(ChainStoreTest, ForgeryWithValidChecksumsFailsVerification) {
  for (std::size_t h = 0; h < starts.size(); ++h) {
    const std::size_t begin = starts[h] + kRecordHeaderBytes;
    const std::size_t end = h + 1 < starts.size() ? starts[h + 1] : file.size();
    for (std::size_t i = begin; i < end; ++i) {
      Bytes bad = file;
      bad[i] ^= 0x01;
      const std::uint32_t crc = crc32c(ByteView(bad.data() + begin, end - begin));
      for (int k = 0; k < 4; ++k) bad[starts[h] + 4 + k] = static_cast<std::uint8_t>(crc >> 8 * k);
      ChainDamage damage{999, 0};
      auto store = ChainStore::parse(bad, "forged", &damage);
      std::uint64_t bad_height = damage.height;
      if (store) {
        const VerifyReport report = verify_chain(*store);
        ASSERT_FALSE(report.ok()) << "forged byte " << i << " (height " << h << ") verified";
        bad_height = *report.bad_height;
      }
      if (h == 0) {
        EXPECT_LE(bad_height, 1u) << "byte " << i;
      } else {
        EXPECT_EQ(bad_height, h) << "byte " << i;
      }
    }
  }
}

TEST_F(ChainStoreTest, VerifyRunChecksTheJobFile) {
  EXPECT_TRUE(verify_run(dir.path()).ok());
  testing::write_bytes(dir.path() / "job.toml", as_bytes("[job]\nname = \"edited\"\n"));
  const VerifyReport report = verify_run(dir.path());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error->code, "job-mismatch");
}

}  // namespace
}  // namespace fedchain::ledger
