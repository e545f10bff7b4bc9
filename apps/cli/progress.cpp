#include "apps/cli/progress.hpp"

#include <unistd.h>

#include <iostream>

namespace latf::cli {

std::unique_ptr<ProgressBar> stderr_progress_bar(bool quiet, bool forced) {
  if (quiet || (!forced && ::isatty(STDERR_FILENO) == 0)) return nullptr;
  return std::make_unique<ProgressBar>(std::cerr);
}

}  // namespace latf::cli
