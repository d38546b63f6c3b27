#include "exchange.hpp"

#include <cstring>
#include <limits>

#include "fedchain/aggregate/rules.hpp"

namespace fedchain::node {

Error mpi_failure(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return runtime_error("{} failed: {}", what, std::string(text, static_cast<std::size_t>(length)));
}

namespace {
// MPI counts are int; updates of more than 2^31 - 1 values would need chunking.
Status check_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return runtime_error("{}: {} values exceed MPI's int count", what, n);
  }
  return {};
}

Result<std::vector<Bytes>> allgather_fixed(ByteView mine, MPI_Comm comm) {
  int ranks = 0;
  MPI_Comm_size(comm, &ranks);
  Bytes all(mine.size() * static_cast<std::size_t>(ranks));
  const int rc = MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_BYTE, all.data(),
                               static_cast<int>(mine.size()), MPI_BYTE, comm);
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgather (byte strings)", rc);
  std::vector<Bytes> out;
  for (int r = 0; r < ranks; ++r) {
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(r * mine.size());
    out.emplace_back(begin, begin + static_cast<std::ptrdiff_t>(mine.size()));
  }
  return out;
}

class MpiCollectives final : public Collectives {
 public:
  Result<std::vector<std::int64_t>> weighted_sum(std::span<const std::int32_t> q,
                                                 std::int64_t weight) override {
    if (auto st = check_count(q.size(), "allreduce of the weighted sum"); !st) return st.error();
    std::vector<std::int64_t> mine(q.size());
    // The same arithmetic `fedchain verify` recomputes the sum with from the update archive.
    if (auto st = aggregate::add_weighted(mine, weight, q); !st) return st.error();
    std::vector<std::int64_t> sum(q.size());
    const int rc = MPI_Allreduce(mine.data(), sum.data(), static_cast<int>(q.size()), MPI_INT64_T,
                                 MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (weighted update sum)", rc);
    return sum;
  }

  Result<std::vector<std::int32_t>> gather_updates(std::span<const std::int32_t> q) override {
    int ranks = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (auto st = check_count(q.size() * static_cast<std::size_t>(ranks), "allgather of updates");
        !st) {
      return st.error();
    }
    std::vector<std::int32_t> all(q.size() * static_cast<std::size_t>(ranks));
    const int rc = MPI_Allgather(q.data(), static_cast<int>(q.size()), MPI_INT32_T, all.data(),
                                 static_cast<int>(q.size()), MPI_INT32_T, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgather (updates)", rc);
    return all;
  }

  Result<std::vector<Bytes>> gather_bytes(ByteView mine) override {
    return allgather_fixed(mine, MPI_COMM_WORLD);
  }

  Result<std::vector<double>> sum_for_report(std::vector<double> values) override {
    std::vector<double> sum(values.size());
    const int rc = MPI_Allreduce(values.data(), sum.data(), static_cast<int>(values.size()),
                                 MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (reporting sums)", rc);
    return sum;
  }

  Result<std::vector<int>> ranks_with(bool flag) override {
    int ranks = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const int mine = flag ? 1 : 0;
    std::vector<int> flags(static_cast<std::size_t>(ranks));
    const int rc = MPI_Allgather(&mine, 1, MPI_INT, flags.data(), 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgather (per-rank flags)", rc);
    std::vector<int> out;
    for (int r = 0; r < ranks; ++r) {
      if (flags[static_cast<std::size_t>(r)] != 0) out.push_back(r);
    }
    return out;
  }

  Status broadcast(std::span<float> values, int root) override {
    if (auto st = check_count(values.size(), "broadcast"); !st) return st;
    const int rc =
        MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (parameters)", rc);
    return {};
  }

  Status agree(const Status& mine) override { return node::agree(mine, MPI_COMM_WORLD); }

  Result<std::vector<std::vector<float>>> pool_colluding(bool colluding,
                                                         std::span<const float> delta) override {
    MPI_Comm attackers;
    // Key 0 for all: ties keep the ranks' MPI_COMM_WORLD order, so the pool's order is fixed.
    if (int rc = MPI_Comm_split(MPI_COMM_WORLD, colluding ? 1 : MPI_UNDEFINED, 0, &attackers);
        rc != MPI_SUCCESS) {
      return mpi_failure("MPI_Comm_split (alie's attackers)", rc);
    }
    std::vector<std::vector<float>> pooled;
    if (!colluding) return pooled;
    auto all = allgather_fixed(bytes_of(delta), attackers);
    MPI_Comm_free(&attackers);
    if (!all) return all.error();
    for (const auto& bytes : *all) {
      auto& values = pooled.emplace_back(delta.size());
      std::memcpy(values.data(), bytes.data(), bytes.size());
    }
    return pooled;
  }
};

}  // namespace

std::unique_ptr<Collectives> make_mpi_collectives() {
  return std::make_unique<MpiCollectives>();
}

Result<bool> any_rank(bool flag, MPI_Comm comm) {
  int mine = flag ? 1 : 0;
  int any = 0;
  const int rc = MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (stop flag)", rc);
  return any != 0;
}

Status agree(const Status& mine, MPI_Comm comm) {
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const int candidate = mine.ok() ? ranks : rank;
  int first_failed = ranks;
  if (int rc = MPI_Allreduce(&candidate, &first_failed, 1, MPI_INT, MPI_MIN, comm);
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Allreduce (agreeing on an error)", rc);
  }
  if (first_failed == ranks) return {};
  // The failing rank's kind and message, broadcast as [kind][length][text].
  int kind = mine.ok() ? 0 : static_cast<int>(mine.error().kind);
  std::string text = mine.ok() ? std::string() : mine.error().message;
  int length = static_cast<int>(text.size());
  int rc = MPI_Bcast(&kind, 1, MPI_INT, first_failed, comm);
  if (rc == MPI_SUCCESS) rc = MPI_Bcast(&length, 1, MPI_INT, first_failed, comm);
  text.resize(static_cast<std::size_t>(length));
  if (rc == MPI_SUCCESS) rc = MPI_Bcast(text.data(), length, MPI_CHAR, first_failed, comm);
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (an agreed error)", rc);
  Error agreed =
      rank == first_failed
          ? mine.error()
          : Error{static_cast<ErrorKind>(kind), fmt::format("rank {}: {}", first_failed, text), {}};
  agreed.every_rank = true;
  return agreed;
}

}  // namespace fedchain::node
