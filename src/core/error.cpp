#include "fedchain/core/error.hpp"

namespace fedchain {

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig:
      return 2;
    case ErrorKind::kRuntime:
      return 1;
    case ErrorKind::kVerification:
      return 3;
  }
  return 1;
}

}  // namespace fedchain
