// RUN_DIR/receipts.log: every prediction receipt of a run, appended in the chain file's
// framing (ledger/record_log.hpp: "FEDRCPTS", u32 version 1, then [u32 length][u32
// crc32c][receipt encoding] records). Each append takes an exclusive lock on the file
// (fcntl F_OFD_SETLKW: two predicts at once append one after the other), cuts a torn tail
// left by a crash, writes one record and fsyncs. Damage before the last record is refused
// (a verification error, exit 3) and the file is left as it is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/serve/receipt.hpp"

namespace fedchain::serve {

std::filesystem::path receipt_log_path(const std::filesystem::path& run_dir);

struct ReceiptLogContents {
  std::vector<Receipt> receipts;             // in append order
  std::optional<std::uint64_t> torn_offset;  // a torn last record starts here (left as is)
};

// Reads the log without changing it; a missing file holds no receipts.
Result<ReceiptLogContents> read_receipt_log(const std::filesystem::path& path);

// Appends one receipt under the file's lock, creating the file (and its header) when it is
// missing or was left empty by a crash at creation.
Status append_receipt(const std::filesystem::path& path, const Receipt& receipt);

}  // namespace fedchain::serve
