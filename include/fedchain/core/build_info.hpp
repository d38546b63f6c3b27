// Facts fixed at build time, printed by `fedchain --version` and written into run logs.
#pragma once

#include <string_view>

namespace fedchain::build {

std::string_view version();
std::string_view git_commit();
std::string_view build_type();
bool cuda_compiled();
bool nccl_compiled();

}  // namespace fedchain::build
