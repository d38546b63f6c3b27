// SHA-256 of a file through OpenSSL EVP, for the provenance attributes of prepared datasets.
// A local helper until crypto/ offers one; private to data/.
#pragma once

#include <filesystem>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::data {

// 64 lower-case hex characters, or a runtime error naming the file.
Result<std::string> file_sha256_hex(const std::filesystem::path& path);

}  // namespace fedchain::data
