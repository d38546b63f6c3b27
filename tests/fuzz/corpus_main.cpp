// Runs a fuzz target without libFuzzer, so the normal build and CI exercise every decoder:
// each seed, then its truncations, every byte flipped three ways, and a few thousand
// seeded random multi-byte mutations. A property violation aborts (the test fails).
//   fuzz_X                      run the corpus
//   fuzz_X --write-seeds DIR    write the seeds as files, a starting corpus for X_fuzzer
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "fuzz_target.hpp"

namespace {

void run(const fedchain::Bytes& input) {
  LLVMFuzzerTestOneInput(input.data(), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  using fedchain::Bytes;
  const std::vector<Bytes> seeds = fedchain::fuzz::seeds();
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) {
    std::filesystem::create_directories(argv[2]);
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(std::filesystem::path(argv[2]) / ("seed-" + std::to_string(i)),
                        std::ios::binary);
      out.write(reinterpret_cast<const char*>(seeds[i].data()),
                static_cast<std::streamsize>(seeds[i].size()));
    }
    return 0;
  }
  std::mt19937_64 rng(20261122);
  std::size_t inputs = 0;
  for (const Bytes& seed : seeds) {
    run(seed);
    // Every truncation of small seeds; about a thousand, evenly spread, of large ones.
    const std::size_t stride = std::max<std::size_t>(1, seed.size() / 1000);
    for (std::size_t n = 0; n < seed.size(); n += stride) {
      run(Bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(n)));
    }
    for (std::size_t i = 0; i < seed.size(); ++i) {
      for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
        Bytes flipped = seed;
        flipped[i] ^= mask;
        run(flipped);
      }
    }
    for (int k = 0; k < 2000 && !seed.empty(); ++k) {
      Bytes mutated = seed;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % mutated.size();
        switch (rng() % 4) {
          case 0:
            mutated[at] = static_cast<std::uint8_t>(rng());
            break;
          case 1:
            mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(at), 0xff);
            break;
          case 2:
            if (mutated.size() > 1)
              mutated.erase(mutated.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          default:
            mutated[at] = 0;
            break;
        }
      }
      run(mutated);
    }
    inputs += 1 + seed.size() / stride + seed.size() * 3 + 2000;
  }
  std::printf("%zu seeds, %zu inputs: every property held\n", seeds.size(), inputs);
  return 0;
}
