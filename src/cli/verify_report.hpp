// What `fedchain verify` says about an audit::RunReport: the verdict line and what follows
// it, an error message where there is one, and the exit code; `fedchain report` shows the
// same text in its audit section, so the two never disagree.
#pragma once

#include <string>

#include "fedchain/audit/run_audit.hpp"

namespace fedchain::cli {

struct AuditText {
  int exit_code = 0;  // 0 verifies, 3 a height or replica fails, else the error's (2, 1)
  std::string error;  // "fedchain: error: ..." for stderr; empty when there is none
  std::string text;   // the verdict and summary ("OK: ...", "FAILED: ...") for stdout
};

AuditText audit_text(const std::string& run_dir, const audit::RunReport& report);

}  // namespace fedchain::cli
