// Merkle commitment throughput against a single-stream EVP SHA-256 of the same bytes,
// timed in the same iterations, and Ed25519 signatures per second.
//   crypto_bench [--benchmark_filter=...]     (Google Benchmark flags)
// Merkle rows (data = 64 MiB, chunk 64 KiB, threads = leaf-hashing threads):
//   merkle_GBps  = bytes / Merkle time           sha_GBps = bytes / plain SHA-256 time
//   per_thread   = merkle_GBps / threads / sha_GBps   (target >= 0.9: threads scale and
//                  the 0x00 prefix, chunking and inner nodes cost under 10%)
// Sign/verify rows: items_per_second over a 165-byte message (one tx's size).
#include <benchmark/benchmark.h>

#include <chrono>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace {

using Clock = std::chrono::steady_clock;

fedchain::Bytes make_data(std::size_t n) {
  fedchain::Bytes data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 2654435761u >> 13);
  return data;
}

void BM_MerkleVsSha256(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const std::size_t bytes = std::size_t{64} << 20;
  const fedchain::Bytes data = make_data(bytes);
  double merkle_s = 0, sha_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(fedchain::crypto::merkle_root(data, 65536, threads));
    const auto t1 = Clock::now();
    benchmark::DoNotOptimize(fedchain::crypto::sha256(data));
    const auto t2 = Clock::now();
    const double merkle = std::chrono::duration<double>(t1 - t0).count();
    merkle_s += merkle;
    sha_s += std::chrono::duration<double>(t2 - t1).count();
    state.SetIterationTime(merkle);
  }
  const double total = static_cast<double>(bytes) * static_cast<double>(state.iterations());
  const double merkle_gbps = total / merkle_s / 1e9;
  const double sha_gbps = total / sha_s / 1e9;
  state.counters["merkle_GBps"] = merkle_gbps;
  state.counters["sha_GBps"] = sha_gbps;
  state.counters["per_thread"] = merkle_gbps / threads / sha_gbps;
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_MerkleVsSha256)
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

void BM_Ed25519Sign(benchmark::State& state) {
  const auto key = fedchain::crypto::derive_rank_key(1, 0);
  const fedchain::Bytes message = make_data(165);
  for (auto _ : state) benchmark::DoNotOptimize(key.sign(message));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign)->Unit(benchmark::kMicrosecond);

void BM_Ed25519Verify(benchmark::State& state) {
  const auto key = fedchain::crypto::derive_rank_key(1, 0);
  const fedchain::Bytes message = make_data(165);
  const auto signature = key.sign(message);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fedchain::crypto::verify(key.public_key(), message, signature));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
