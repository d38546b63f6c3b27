// file_sha256.hpp: streams the file through EVP_sha256 in 1 MiB chunks.
#include "file_sha256.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "fedchain/core/bytes.hpp"

namespace fedchain::data {

Result<std::string> file_sha256_hex(const std::filesystem::path& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) return runtime_error("{}: cannot open to hash", path.string());
  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(),
                                                                   &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    return runtime_error("OpenSSL could not start a SHA-256 digest");
  }
  std::vector<unsigned char> buffer(1 << 20);
  for (;;) {
    const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (got > 0 && EVP_DigestUpdate(context.get(), buffer.data(), got) != 1) {
      return runtime_error("OpenSSL SHA-256 update failed on {}", path.string());
    }
    if (got < buffer.size()) break;
  }
  if (std::ferror(file.get()) != 0) return runtime_error("{}: read error", path.string());
  Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(context.get(), digest.data(), &size) != 1) {
    return runtime_error("OpenSSL SHA-256 final failed on {}", path.string());
  }
  digest.resize(size);
  return to_hex(digest);
}

}  // namespace fedchain::data
