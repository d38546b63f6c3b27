// What every fuzz target in tests/fuzz/ provides besides LLVMFuzzerTestOneInput: valid
// inputs to start from (libFuzzer's seed corpus, and the plain ctest's corpus), and the
// property each target checks beyond "does not crash": a decoder that accepts bytes must
// re-encode them to exactly those bytes (one canonical encoding per value).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fedchain/core/bytes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fedchain::fuzz {

// Valid encodings of the target's type, built from a real signed test chain.
std::vector<Bytes> seeds();

// Stops the run (libFuzzer records the input as a crash) when a property fails.
inline void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

// Decode; if accepted, the encoding must reproduce the input byte for byte.
template <typename T>
void check_canonical(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = T::decode(input);
  if (!decoded) {
    require(!decoded.error().code.empty(), "a refusal carries a reason code");
    return;
  }
  const Bytes again = decoded->encode();
  require(again.size() == size && std::equal(again.begin(), again.end(), input.begin()),
          "decode then encode reproduces the input");
}

}  // namespace fedchain::fuzz
