// Merkle commitment throughput against single-stream EVP SHA-256 of the same bytes in the
// same run, and Ed25519 signatures per second. The shared flags and table:
// bench/common/bench_flags.hpp.
//   merkle_root/chunk=65536  the genesis default chunk; size = bytes hashed, threads = the
//                            leaf-hashing threads; ratio = throughput / (threads x the
//                            sha256 row's), the per-thread efficiency (target >= 0.9: threads
//                            scale, and the 0x00 prefix, chunking and inner nodes cost < 10%)
//   sha256                   one stream over the same bytes: the baseline
//   ed25519_sign, _verify    one iteration is kSignatures messages of 165 bytes (a tx's size)
//                            on one thread, whatever --sizes and --threads say; no baseline
#include <fmt/format.h>

#include "bench_flags.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace {

namespace bench = fedchain::bench;

constexpr std::size_t kChunk = 65536;
constexpr int kSignatures = 256;
constexpr std::size_t kMessage = 165;

fedchain::Bytes make_data(std::size_t n) {
  fedchain::Bytes data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 2654435761u >> 13);
  return data;
}

void run_hashing(bench::Table& table, const bench::Flags& flags, std::uint64_t size) {
  const fedchain::Bytes data = make_data(size);
  const double bytes = static_cast<double>(size);
  const auto sha = bench::measure(flags, [&] { (void)fedchain::crypto::sha256(data); });
  const double sha_gbps = bench::gb_per_second(bytes, sha.seconds);
  table.add({"sha256", size, 1, sha, sha_gbps, "GB/s", std::nullopt});
  for (const int threads : flags.threads) {
    const auto merkle =
        bench::measure(flags, [&] { (void)fedchain::crypto::merkle_root(data, kChunk, threads); });
    table.add({fmt::format("merkle_root/chunk={}", kChunk), size, threads, merkle,
               bench::gb_per_second(bytes, merkle.seconds), "GB/s", threads * sha_gbps});
  }
}

void run_signatures(bench::Table& table, const bench::Flags& flags) {
  const auto key = fedchain::crypto::derive_rank_key(1, 0);
  const fedchain::Bytes message = make_data(kMessage);
  const auto signature = key.sign(message);
  const auto sign = bench::measure(flags, [&] {
    for (int i = 0; i < kSignatures; ++i) (void)key.sign(message);
  });
  table.add(
      {"ed25519_sign", kMessage, 1, sign, kSignatures / sign.seconds, "sign/s", std::nullopt});
  const auto verify = bench::measure(flags, [&] {
    for (int i = 0; i < kSignatures; ++i) {
      (void)fedchain::crypto::verify(key.public_key(), message, signature);
    }
  });
  table.add({"ed25519_verify", kMessage, 1, verify, kSignatures / verify.seconds, "verify/s",
             std::nullopt});
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{
      .program = "crypto_bench",
      .size_means = "bytes hashed (ed25519_*: bytes signed, 165)",
      .baseline_means = "threads x single-stream SHA-256 of the same bytes (merkle_root)",
      .warmup = 2,
      .iterations = 20,
      .sizes = {std::uint64_t{64} << 20},
      .small_sizes = {std::uint64_t{1} << 20},
      .threads = {1, 2}};
  CLI::App app;
  bench::Flags flags;
  if (const auto exit_code = bench::parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  bench::Table table(spec, flags);
  for (const auto size : flags.sizes) run_hashing(table, flags, size);
  run_signatures(table, flags);
  return table.finish();
}
