#include "http/descriptor_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace cg::server {

namespace {

std::uint64_t kernel_nr_open() {
  std::uint64_t value = 0;
  std::ifstream in("/proc/sys/fs/nr_open");
  if (in >> value && value > 0) return value;
  return 1U << 20U;  // Linux's default for fs.nr_open
}

std::size_t open_descriptors() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n > 0 ? n - 1 : 0;  // the iterator's own descriptor for the directory
}

}  // namespace

descriptor_budget raise_descriptor_limit() {
  descriptor_budget b;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    const std::uint64_t ceiling = lim.rlim_max == RLIM_INFINITY ? kernel_nr_open() : lim.rlim_max;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < ceiling) {
      rlimit raised = lim;
      raised.rlim_cur = ceiling;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        b.raised = true;
        lim = raised;
      }
    }
    b.limit = lim.rlim_cur == RLIM_INFINITY ? kernel_nr_open() : lim.rlim_cur;
    b.hard = lim.rlim_max == RLIM_INFINITY ? kernel_nr_open() : lim.rlim_max;
  }
  b.in_use = open_descriptors();
  return b;
}

std::size_t connections_that_fit(const descriptor_budget& budget) noexcept {
  if (budget.limit <= budget.in_use) return 1;
  const std::uint64_t left = budget.limit - budget.in_use;
  const std::uint64_t reserve = std::min<std::uint64_t>(64, left / 4);
  return static_cast<std::size_t>(std::max<std::uint64_t>(left - reserve, 1));
}

}  // namespace cg::server
