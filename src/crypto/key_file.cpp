// Key directories (see key_file.hpp for the layout). Private keys are created with
// O_EXCL and mode 0600 from the start, never chmod-ed after a world-readable moment.
#include "fedchain/crypto/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

namespace fedchain::crypto {

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

Result<std::string> to_pem(const SigningKey& key) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, key.seed().data(), key.seed().size()));
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!pkey || !bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return runtime_error("cannot encode a private key as PEM (OpenSSL failed)");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Status write_new_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return config_error("{} already exists; keygen never overwrites keys (choose a new --out)",
                          path.string());
    }
    return runtime_error("cannot create {}: {}", path.string(), std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return runtime_error("cannot write {}: {}", path.string(), std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return runtime_error("cannot sync {}: {}", path.string(), std::strerror(errno));
  }
  return {};
}

}  // namespace

std::filesystem::path private_key_path(const std::filesystem::path& dir, std::uint32_t rank) {
  return dir / fmt::format("rank-{}.key", rank);
}

std::filesystem::path public_key_list_path(const std::filesystem::path& dir) {
  return dir / "public-keys.txt";
}

Status write_key_directory(const std::filesystem::path& dir, const std::vector<SigningKey>& keys) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return runtime_error("cannot create key directory {}: {}", dir.string(), ec.message());
  std::string list = "# fedchain public keys (Ed25519): rank, then the 32-byte key in hex\n";
  for (std::uint32_t rank = 0; rank < keys.size(); ++rank) {
    auto pem = to_pem(keys[rank]);
    if (!pem) return pem.error();
    if (auto st = write_new_file(private_key_path(dir, rank), *pem, 0600); !st) return st;
    list += fmt::format("{} {}\n", rank, to_hex(keys[rank].public_key().view()));
  }
  return write_new_file(public_key_list_path(dir), list, 0644);
}

Result<SigningKey> read_private_key(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error("cannot read private key {}: no such file", path.string());
  // As ssh does: a key others can read may already be someone else's.
  struct stat info = {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 0077) != 0) {
    return config_error(
        "private key {} can be read by other users (mode {:04o}): make it private with "
        "`chmod 600 {}`, and make a new key set (`fedchain keygen`) if others may have read it",
        path.string(), info.st_mode & 07777, path.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519) {
    return config_error("{} is not a PEM Ed25519 private key (write keys with `fedchain keygen`)",
                        path.string());
  }
  KeySeed seed;
  std::size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &len) != 1 || len != seed.size()) {
    return config_error("{}: cannot read the Ed25519 private key", path.string());
  }
  return SigningKey::from_seed(seed);
}

Result<SigningKey> load_or_create_private_key(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return read_private_key(path);
  auto key = SigningKey::generate();
  if (!key) return key.error();
  auto pem = to_pem(*key);
  if (!pem) return pem.error();
  const auto temp = std::filesystem::path(path.string() + fmt::format(".tmp.{}", ::getpid()));
  std::filesystem::remove(temp, ec);
  if (auto st = write_new_file(temp, *pem, 0600); !st) return st.error();
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  std::filesystem::remove(temp, ec);
  if (linked != 0 && link_errno != EEXIST) {
    return runtime_error("cannot create {}: {}", path.string(), std::strerror(link_errno));
  }
  return read_private_key(path);
}

Result<std::vector<PublicKey>> read_public_keys(const std::filesystem::path& dir) {
  const auto path = public_key_list_path(dir);
  std::ifstream in(path);
  if (!in) return config_error("cannot read {}: no such file", path.string());
  std::vector<PublicKey> keys;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::uint64_t rank = 0;
    std::string hex;
    auto raw = (fields >> rank >> hex) ? from_hex(hex) : std::nullopt;
    if (!raw || raw->size() != 32 || rank != keys.size()) {
      return config_error("{}:{}: expected '{} <64 hex digits>'", path.string(), line_no,
                          keys.size());
    }
    PublicKey key;
    std::memcpy(key.bytes.data(), raw->data(), 32);
    keys.push_back(key);
  }
  return keys;
}

Result<SigningKey> load_rank_key(const KeySource& source, std::uint32_t rank) {
  if (source.derive_from_seed) {
    spdlog::warn(
        "rank {}: signing key DERIVED FROM THE JOB SEED (keys.derive_from_seed = true): anyone "
        "with the job file can sign as any rank; use `fedchain keygen` and keys.dir for real runs",
        rank);
    return derive_rank_key(source.seed, rank);
  }
  if (source.dir.empty()) {
    return config_error(
        "the job names no keys: set keys.dir to a directory written by `fedchain keygen`, or "
        "keys.derive_from_seed = true for a demo");
  }
  return read_private_key(private_key_path(source.dir, rank));
}

Result<std::vector<PublicKey>> load_public_keys(const KeySource& source, std::uint32_t ranks) {
  std::vector<PublicKey> keys;
  if (source.derive_from_seed) {
    for (std::uint32_t rank = 0; rank < ranks; ++rank) {
      keys.push_back(derive_rank_key(source.seed, rank).public_key());
    }
    return keys;
  }
  if (source.dir.empty()) return load_rank_key(source, 0).error();
  auto listed = read_public_keys(source.dir);
  if (!listed) return listed.error();
  if (listed->size() < ranks) {
    return config_error("{} lists {} keys but the job runs {} ranks", source.dir, listed->size(),
                        ranks);
  }
  listed->resize(ranks);
  // One key voting as two validators would hold two votes.
  std::vector<std::pair<PublicKey, std::uint32_t>> sorted;
  for (std::uint32_t r = 0; r < ranks; ++r) sorted.emplace_back((*listed)[r], r);
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].first == sorted[i - 1].first) {
      return config_error(
          "{}: ranks {} and {} have the same public key; every rank needs a key of its own "
          "(`fedchain keygen --ranks N --out DIR` makes a fresh set)",
          public_key_list_path(source.dir).string(),
          std::min(sorted[i].second, sorted[i - 1].second),
          std::max(sorted[i].second, sorted[i - 1].second));
    }
  }
  return listed;
}

}  // namespace fedchain::crypto
