#include "exchange.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "stall_watchdog.hpp"

#if defined(FEDCHAIN_HAVE_CUDA)
#include "fedchain/kernels/device.hpp"
#endif

namespace fedchain::node {

Error mpi_failure(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return runtime_error("{} failed: {}", what, std::string(text, static_cast<std::size_t>(length)));
}

namespace {
// Every collective is started non-blocking and completed by wait_for, so that a rank
// lost mid-round ends the job instead of hanging it (stall_watchdog.hpp). `start` is the
// MPI_I... call given its request; `what` names it in errors and in the watchdog's report.
template <typename Start>
int collective(const char* what, Start start) {
  MPI_Request request = MPI_REQUEST_NULL;
  if (int rc = start(&request); rc != MPI_SUCCESS) return rc;
  return wait_for(request, what);
}

// MPI counts are int; updates of more than 2^31 - 1 values would need chunking.
Status check_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return runtime_error("{}: {} values exceed MPI's int count", what, n);
  }
  return {};
}

// Every rank's byte string: the lengths first, each checked against `max_bytes` (a hostile
// rank cannot make the others allocate), then MPI_Allgatherv.
Result<std::vector<Bytes>> allgather_variable(ByteView mine, std::size_t max_bytes, MPI_Comm comm) {
  int ranks = 0;
  MPI_Comm_size(comm, &ranks);
  if (auto st = check_count(mine.size(), "allgather of byte strings"); !st) return st.error();
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(ranks));
  int rc = collective("MPI_Allgather (byte string lengths)", [&](MPI_Request* request) {
    return MPI_Iallgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm, request);
  });
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgather (byte string lengths)", rc);
  std::vector<int> offsets(static_cast<std::size_t>(ranks));
  std::size_t total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    if (lengths[r] < 0 || static_cast<std::size_t>(lengths[r]) > max_bytes) {
      Error error = runtime_error("rank {} announced {} bytes for a gather bounded at {} per rank",
                                  r, lengths[r], max_bytes);
      error.every_rank = true;  // every rank saw the same lengths
      return error;
    }
    offsets[r] = static_cast<int>(total);
    total += static_cast<std::size_t>(lengths[r]);
    if (auto st = check_count(total, "allgather of byte strings"); !st) return st.error();
  }
  Bytes all(total);
  rc = collective("MPI_Allgatherv (byte strings)", [&](MPI_Request* request) {
    return MPI_Iallgatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(),
                           offsets.data(), MPI_BYTE, comm, request);
  });
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgatherv (byte strings)", rc);
  std::vector<Bytes> out;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    const auto begin = all.begin() + offsets[r];
    out.emplace_back(begin, begin + lengths[r]);
  }
  return out;
}

template <typename T>
std::vector<T> values_of(const Bytes& bytes) {
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

class MpiCollectives : public Collectives {
 public:
  Result<std::vector<std::int64_t>> sum(std::span<const std::int64_t> partial) override {
    if (auto st = check_count(partial.size(), "allreduce of the weighted sum"); !st) {
      return st.error();
    }
    std::vector<std::int64_t> total(partial.size());
    const int rc = collective("MPI_Allreduce (weighted update sum)", [&](MPI_Request* request) {
      return MPI_Iallreduce(partial.data(), total.data(), static_cast<int>(partial.size()),
                            MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (weighted update sum)", rc);
    return total;
  }

  Result<std::vector<std::uint64_t>> sum_modular(std::span<const std::uint64_t> partial) override {
    if (auto st = check_count(partial.size(), "allreduce of the masked sum"); !st) {
      return st.error();
    }
    std::vector<std::uint64_t> total(partial.size());
    const int rc = collective("MPI_Allreduce (masked update sum)", [&](MPI_Request* request) {
      return MPI_Iallreduce(partial.data(), total.data(), static_cast<int>(partial.size()),
                            MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (masked update sum)", rc);
    return total;
  }

  Result<GatheredUpdates> gather_updates(std::span<const std::uint32_t> clients,
                                         std::span<const std::int32_t> values, std::size_t length,
                                         std::size_t max_per_rank) override {
    auto ids =
        allgather_variable(bytes_of(clients), max_per_rank * sizeof(std::uint32_t), MPI_COMM_WORLD);
    if (!ids) return ids.error();
    auto updates = allgather_variable(bytes_of(values),
                                      max_per_rank * length * sizeof(std::int32_t), MPI_COMM_WORLD);
    if (!updates) return updates.error();
    GatheredUpdates out;
    for (std::size_t r = 0; r < ids->size(); ++r) {
      const auto rank_clients = values_of<std::uint32_t>((*ids)[r]);
      const auto rank_values = values_of<std::int32_t>((*updates)[r]);
      if (rank_values.size() != rank_clients.size() * length) continue;  // misframed: unusable
      out.clients.insert(out.clients.end(), rank_clients.begin(), rank_clients.end());
      out.senders.insert(out.senders.end(), rank_clients.size(), static_cast<int>(r));
      out.values.insert(out.values.end(), rank_values.begin(), rank_values.end());
    }
    return out;
  }

  Result<std::vector<Bytes>> gather_bytes(ByteView mine, std::size_t item_bytes,
                                          std::size_t max_per_rank) override {
    return allgather_variable(mine, item_bytes * max_per_rank, MPI_COMM_WORLD);
  }

  Result<std::vector<std::vector<std::uint32_t>>> gather_ids(std::span<const std::uint32_t> mine,
                                                             std::size_t max_per_rank) override {
    auto all =
        allgather_variable(bytes_of(mine), max_per_rank * sizeof(std::uint32_t), MPI_COMM_WORLD);
    if (!all) return all.error();
    std::vector<std::vector<std::uint32_t>> ids;
    for (const auto& bytes : *all) ids.push_back(values_of<std::uint32_t>(bytes));
    return ids;
  }

  Result<std::vector<double>> sum_for_report(std::vector<double> values) override {
    std::vector<double> sum(values.size());
    const int rc = collective("MPI_Allreduce (reporting sums)", [&](MPI_Request* request) {
      return MPI_Iallreduce(values.data(), sum.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                            MPI_SUM, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (reporting sums)", rc);
    return sum;
  }

  Result<std::vector<std::uint64_t>> max_for_report(std::vector<std::uint64_t> values) override {
    std::vector<std::uint64_t> max(values.size());
    const int rc = collective("MPI_Allreduce (reporting maxima)", [&](MPI_Request* request) {
      return MPI_Iallreduce(values.data(), max.data(), static_cast<int>(values.size()),
                            MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allreduce (reporting maxima)", rc);
    return max;
  }

  Result<std::vector<int>> ranks_with(bool flag) override {
    int ranks = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const int mine = flag ? 1 : 0;
    std::vector<int> flags(static_cast<std::size_t>(ranks));
    const int rc = collective("MPI_Allgather (per-rank flags)", [&](MPI_Request* request) {
      return MPI_Iallgather(&mine, 1, MPI_INT, flags.data(), 1, MPI_INT, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Allgather (per-rank flags)", rc);
    std::vector<int> out;
    for (int r = 0; r < ranks; ++r) {
      if (flags[static_cast<std::size_t>(r)] != 0) out.push_back(r);
    }
    return out;
  }

  Status broadcast(std::span<float> values, int root) override {
    if (auto st = check_count(values.size(), "broadcast"); !st) return st;
    const int rc = collective("MPI_Bcast (parameters)", [&](MPI_Request* request) {
      return MPI_Ibcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, root,
                        MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (parameters)", rc);
    return {};
  }

  Result<Bytes> broadcast_bytes(ByteView mine, int root, std::size_t max_bytes) override {
    std::uint64_t length = mine.size();
    int rc = collective("MPI_Bcast (committed block length)", [&](MPI_Request* request) {
      return MPI_Ibcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (length)", rc);
    if (length > max_bytes || length > static_cast<std::uint64_t>(INT_MAX)) {
      spdlog::warn("rank {} broadcast {} bytes, more than the {} allowed; ignored", root, length,
                   max_bytes);
      return Bytes{};
    }
    Bytes bytes(mine.begin(), mine.end());
    bytes.resize(static_cast<std::size_t>(length));
    rc = collective("MPI_Bcast (committed block)", [&](MPI_Request* request) {
      return MPI_Ibcast(bytes.data(), static_cast<int>(length), MPI_BYTE, root, MPI_COMM_WORLD,
                        request);
    });
    if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (bytes)", rc);
    return bytes;
  }

  Status agree(const Status& mine) override { return node::agree(mine, MPI_COMM_WORLD); }

  Result<std::vector<std::vector<float>>> pool_colluding(
      std::span<const std::span<const float>> mine, std::size_t length,
      std::size_t max_per_rank) override {
    std::vector<float> sent;
    for (const auto& delta : mine) sent.insert(sent.end(), delta.begin(), delta.end());
    auto all = allgather_variable(bytes_of(std::span<const float>(sent)),
                                  max_per_rank * length * sizeof(float), MPI_COMM_WORLD);
    if (!all) return all.error();
    std::vector<std::vector<float>> pooled;
    for (const auto& bytes : *all) {
      const auto values = values_of<float>(bytes);
      for (std::size_t at = 0; at + length <= values.size() && length > 0; at += length) {
        pooled.emplace_back(values.begin() + static_cast<std::ptrdiff_t>(at),
                            values.begin() + static_cast<std::ptrdiff_t>(at + length));
      }
    }
    return pooled;
  }
};

// aggregate.transport = "nccl": the update sums and the updates' allgather go through NCCL
// on the rank's GPU; everything else (ids, transactions, votes, reporting) stays on MPI.
class NcclCollectives final : public MpiCollectives {
 public:
  explicit NcclCollectives(std::unique_ptr<gpu::NcclExchange> nccl) : nccl_(std::move(nccl)) {}

  Result<std::vector<std::int64_t>> sum(std::span<const std::int64_t> partial) override {
    std::vector<std::int64_t> total(partial.size());
    if (auto st = nccl_->sum(partial, total); !st) return st.error();
    return total;
  }

  Result<std::vector<std::uint64_t>> sum_modular(std::span<const std::uint64_t> partial) override {
    std::vector<std::uint64_t> total(partial.size());
    if (auto st = nccl_->sum(partial, total); !st) return st.error();
    return total;
  }

  // The clients over MPI (gather_ids, bounded as on the MPI path), then one NCCL allgather
  // of equal parts: each rank pads its updates to the most any rank announced, and each
  // part is read back only as far as its rank's announced clients.
  Result<GatheredUpdates> gather_updates(std::span<const std::uint32_t> clients,
                                         std::span<const std::int32_t> values, std::size_t length,
                                         std::size_t max_per_rank) override {
    auto ids = gather_ids(clients, max_per_rank);
    if (!ids) return ids.error();
    const std::vector<std::vector<std::uint32_t>>& by_rank = *ids;
    std::size_t most = 0;
    for (const auto& rank_clients : by_rank) most = std::max(most, rank_clients.size());
    std::vector<std::int32_t> mine(most * length, 0);
    std::copy_n(values.begin(), std::min(values.size(), mine.size()), mine.begin());
    std::vector<std::int32_t> all(mine.size() * by_rank.size());
    if (auto st = nccl_->gather(mine, all); !st) return st.error();
    GatheredUpdates out;
    for (std::size_t r = 0; r < by_rank.size(); ++r) {
      const auto part = all.begin() + static_cast<std::ptrdiff_t>(r * mine.size());
      out.clients.insert(out.clients.end(), by_rank[r].begin(), by_rank[r].end());
      out.senders.insert(out.senders.end(), by_rank[r].size(), static_cast<int>(r));
      out.values.insert(out.values.end(), part,
                        part + static_cast<std::ptrdiff_t>(by_rank[r].size() * length));
    }
    return out;
  }

 private:
  std::unique_ptr<gpu::NcclExchange> nccl_;
};

}  // namespace

std::unique_ptr<Collectives> make_mpi_collectives() {
  return std::make_unique<MpiCollectives>();
}

std::unique_ptr<Collectives> make_collectives_over(std::unique_ptr<gpu::NcclExchange> bulk) {
  return std::make_unique<NcclCollectives>(std::move(bulk));
}

std::vector<RankGroup> group_ranks(std::span<const std::string> value_by_rank) {
  std::vector<RankGroup> groups;
  for (std::size_t r = 0; r < value_by_rank.size(); ++r) {
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const RankGroup& g) { return g.value == value_by_rank[r]; });
    if (group == groups.end()) group = groups.insert(groups.end(), {value_by_rank[r], {}});
    group->ranks.push_back(r);
  }
  return groups;
}

Status check_one_rank_per_gpu(std::span<const std::string> device_by_rank) {
  std::vector<std::string> shared;
  for (const auto& [device, ranks] : group_ranks(device_by_rank)) {
    if (ranks.size() > 1)
      shared.push_back(fmt::format("ranks {} share {}", fmt::join(ranks, " "), device));
  }
  if (shared.empty()) return {};
  return config_error(
      "aggregate.transport = \"nccl\": {}; NCCL needs a GPU of its own for each rank. Start "
      "one rank per GPU (Slurm: --gpus-per-task=1; docs/slurm.md, \"Several GPUs per node\") "
      "or use aggregate.transport = \"mpi\", which lets ranks share a GPU",
      fmt::join(shared, "; "));
}

Result<std::unique_ptr<Collectives>> make_nccl_collectives() {
#if defined(FEDCHAIN_HAVE_CUDA)
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  // Every rank must have a GPU before any enters NCCL's collective set-up.
  const auto probe = gpu::probe_devices();
  Status usable;
  if (probe.devices.empty()) {
    usable = config_error(
        "aggregate.transport = \"nccl\": rank {} has no usable GPU ({}); use "
        "aggregate.transport = \"mpi\"",
        rank, probe.why_none);
  }
  if (auto st = agree(usable, MPI_COMM_WORLD); !st) return st.error();
  const auto& device = gpu::device_for_this_rank(probe);
  // NCCL refuses two ranks on one GPU with "invalid usage"; say which ranks and what to do.
  constexpr std::size_t kMaxUuidBytes = 64;
  auto uuids = allgather_variable(as_bytes(device.uuid), kMaxUuidBytes, MPI_COMM_WORLD);
  if (!uuids) return uuids.error();
  std::vector<std::string> device_by_rank;
  for (const Bytes& uuid : *uuids) device_by_rank.emplace_back(uuid.begin(), uuid.end());
  if (auto st = check_one_rank_per_gpu(device_by_rank); !st) {
    Error alike = st.error();
    alike.every_rank = true;  // every rank gathered the same UUIDs
    return alike;
  }
  gpu::NcclId id{};
  Status made;
  if (rank == 0) {
    auto fresh = gpu::nccl_new_id();
    if (fresh) id = *fresh;
    made = fresh ? Status{} : Status{fresh.error()};
  }
  if (auto st = agree(made, MPI_COMM_WORLD); !st) return st.error();
  if (const int rc = collective("MPI_Bcast (NCCL id)",
                                [&](MPI_Request* request) {
                                  return MPI_Ibcast(id.data(), static_cast<int>(id.size()),
                                                    MPI_BYTE, 0, MPI_COMM_WORLD, request);
                                });
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Bcast (NCCL id)", rc);
  }
  auto nccl = gpu::NcclExchange::create(device.index, id, rank, ranks);
  Status joined = nccl ? Status{} : Status{nccl.error()};
  if (auto st = agree(joined, MPI_COMM_WORLD); !st) return st.error();
  return make_collectives_over(std::move(*nccl));
#else
  Error error = config_error(
      "aggregate.transport = \"nccl\": this fedchain was built without CUDA (no nvcc when it "
      "was configured, or FEDCHAIN_CUDA=OFF); rebuild with CUDA and NCCL or use "
      "aggregate.transport = \"mpi\"");
  error.every_rank = true;
  return error;
#endif
}

Result<bool> any_rank(bool flag, MPI_Comm comm) {
  int mine = flag ? 1 : 0;
  int any = 0;
  const int rc = collective("MPI_Allreduce (stop flag)", [&](MPI_Request* request) {
    return MPI_Iallreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm, request);
  });
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
  if (int rc = collective("MPI_Allreduce (agreeing on an error)",
                          [&](MPI_Request* request) {
                            return MPI_Iallreduce(&candidate, &first_failed, 1, MPI_INT, MPI_MIN,
                                                  comm, request);
                          });
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Allreduce (agreeing on an error)", rc);
  }
  if (first_failed == ranks) return {};
  // The failing rank's kind and message, broadcast as [kind][length][text].
  int kind = mine.ok() ? 0 : static_cast<int>(mine.error().kind);
  std::string text = mine.ok() ? std::string() : mine.error().message;
  int length = static_cast<int>(text.size());
  const auto bcast = [&](void* data, int count, MPI_Datatype type) {
    return collective("MPI_Bcast (an agreed error)", [&](MPI_Request* request) {
      return MPI_Ibcast(data, count, type, first_failed, comm, request);
    });
  };
  int rc = bcast(&kind, 1, MPI_INT);
  if (rc == MPI_SUCCESS) rc = bcast(&length, 1, MPI_INT);
  text.resize(static_cast<std::size_t>(length));
  if (rc == MPI_SUCCESS) rc = bcast(text.data(), length, MPI_CHAR);
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (an agreed error)", rc);
  Error agreed =
      rank == first_failed
          ? mine.error()
          : Error{static_cast<ErrorKind>(kind), fmt::format("rank {}: {}", first_failed, text), {}};
  agreed.every_rank = true;
  return agreed;
}

}  // namespace fedchain::node
