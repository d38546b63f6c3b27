// Runs a fuzz target without libFuzzer, so the normal build and CI exercise every target.
// A property violation aborts (the test fails), and the input that did it is written to
// fuzz-crash-input in the working folder, for the libFuzzer binary to replay.
//   fuzz_X                      each seed, then its truncations, every byte flipped three
//                               ways, and a few thousand seeded random mutations
//   fuzz_X --max-seconds S DIR  each seed and each file in DIR, then seeded random
//                               mutations of them, round robin, until S seconds have passed
//                               (targets whose inputs are programs, too dear to sweep)
//   fuzz_X --write-seeds DIR    write the seeds as files, a starting corpus for X_fuzzer
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "fuzz_target.hpp"

namespace {

using fedchain::Bytes;

const Bytes* current = nullptr;

// Async-signal-safe: open, write, close only.
extern "C" void write_crash_input(int signal) {
  if (current != nullptr) {
    const int fd = ::open("fuzz-crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, current->data(), current->size());
      ::close(fd);
    }
    constexpr char kNote[] = "fuzz: the failing input is in fuzz-crash-input\n";
    (void)!::write(2, kNote, sizeof kNote - 1);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void run(const Bytes& input) {
  current = &input;
  LLVMFuzzerTestOneInput(input.data(), input.size());
  current = nullptr;
}

Bytes mutate(Bytes input, std::mt19937_64& rng) {
  if (input.empty()) input.push_back(0);
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = rng() % input.size();
    switch (rng() % 4) {
      case 0:
        input[at] = static_cast<std::uint8_t>(rng());
        break;
      case 1:
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), 0xff);
        break;
      case 2:
        if (input.size() > 1) input.erase(input.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      default:
        input[at] = 0;
        break;
    }
  }
  return input;
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every seed; its truncations (all of a small seed, about a thousand of a large one);
// every byte flipped three ways; 2000 random mutations.
std::size_t sweep(const std::vector<Bytes>& seeds, std::mt19937_64& rng) {
  std::size_t inputs = 0;
  for (const Bytes& seed : seeds) {
    run(seed);
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
    for (int k = 0; k < 2000 && !seed.empty(); ++k) run(mutate(seed, rng));
    inputs += 1 + seed.size() / stride + seed.size() * 3 + 2000;
  }
  return inputs;
}

// Each input once, then mutations of each in turn until the deadline. The sequence is fixed
// by the seed; how far it gets depends on the machine.
std::size_t time_box(const std::vector<Bytes>& inputs, std::chrono::seconds limit,
                     std::mt19937_64& rng) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (const Bytes& input : inputs) run(input);
  std::size_t runs = inputs.size();
  for (std::size_t i = 0; !inputs.empty() && std::chrono::steady_clock::now() < deadline; ++i) {
    run(mutate(inputs[i % inputs.size()], rng));
    ++runs;
  }
  return runs;
}

}  // namespace

int main(int argc, char** argv) {
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
  std::signal(SIGABRT, write_crash_input);
  std::signal(SIGSEGV, write_crash_input);
  std::mt19937_64 rng(20261122);
  if (argc >= 3 && std::strcmp(argv[1], "--max-seconds") == 0) {
    std::vector<Bytes> inputs = seeds;
    std::size_t files = 0;
    for (int i = 3; i < argc; ++i) {
      std::vector<std::filesystem::path> paths;
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
      std::sort(paths.begin(), paths.end());
      for (const auto& path : paths) inputs.push_back(read_file(path));
      files += paths.size();
    }
    const std::size_t runs = time_box(inputs, std::chrono::seconds(std::stoi(argv[2])), rng);
    std::printf("%zu seeds, %zu corpus files, %zu inputs: every property held\n", seeds.size(),
                files, runs);
    return 0;
  }
  const std::size_t inputs = sweep(seeds, rng);
  std::printf("%zu seeds, %zu inputs: every property held\n", seeds.size(), inputs);
  return 0;
}
