// Consensus latency per height over MPI, with no tensors: every rank a validator, tiny
// blocks, no faults. Prints one row: ranks, heights, ms per height, messages and bytes per
// height (all ranks together). Run: mpirun -n N net_consensus_bench [heights]
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "fedchain/consensus/ed25519_signer.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/net/consensus_loop.hpp"

namespace {

using namespace fedchain;

class Sha256Hasher final : public consensus::BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override { return crypto::sha256(block); }
};

class TinyApp final : public net::Application {
 public:
  explicit TinyApp(std::uint32_t n) : n_(n) {}
  Bytes propose_block(std::uint64_t height, std::uint32_t round) override {
    Writer w;
    w.u64(height).u32(round).hash(Hash32{});
    return w.take();
  }
  bool validate_block(std::uint64_t, const Hash32&, ByteView) override { return true; }
  Result<consensus::ValidatorSet> commit(const consensus::Commit&) override {
    return consensus::ValidatorSet::equal(n_);
  }

 private:
  std::uint32_t n_;
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::uint64_t heights = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200;
  const auto n = static_cast<std::uint32_t>(size);
  int rc = 0;
  {
    auto transport = net::Transport::create(std::size_t{1} << 20);
    std::vector<PublicKey> keys;
    for (std::uint32_t i = 0; i < n; ++i)
      keys.push_back(crypto::derive_rank_key(1, i).public_key());
    consensus::Ed25519Signer signer(crypto::derive_rank_key(1, static_cast<std::uint32_t>(rank)),
                                    keys);
    Sha256Hasher hasher;
    consensus::Config config;
    config.self = static_cast<std::uint32_t>(rank);
    config.catchup_heights = static_cast<std::uint32_t>(heights);
    consensus::StateMachine machine(config, signer, hasher);
    TinyApp app(n);
    net::ConsensusLoop loop(machine, **transport, app);
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = std::chrono::steady_clock::now();
    const Status st = loop.run(0, consensus::ValidatorSet::equal(n), heights,
                               std::chrono::seconds(argc > 2 ? std::atoi(argv[2]) : 600));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!st) {
      std::fprintf(stderr, "rank %d: %s\n", rank, st.error().message.c_str());
      rc = 1;
    }
    const std::uint64_t mine[2] = {(*transport)->stats().sent, (*transport)->stats().bytes_sent};
    std::uint64_t total[2] = {0, 0};
    double slowest = 0;
    MPI_Reduce(mine, total, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&ms, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      std::printf("%6s %8s %12s %12s %14s\n", "ranks", "heights", "ms/height", "msgs/height",
                  "bytes/height");
      std::printf("%6u %8llu %12.3f %12.1f %14.1f\n", n, static_cast<unsigned long long>(heights),
                  slowest / static_cast<double>(heights),
                  static_cast<double>(total[0]) / static_cast<double>(heights),
                  static_cast<double>(total[1]) / static_cast<double>(heights));
    }
  }
  MPI_Finalize();
  return rc;
}
