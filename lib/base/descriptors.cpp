#include "base/descriptors.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>

namespace pssh::detail {

void reserve_descriptors(std::size_t hosts) {
  if (hosts == 0) return;
  // Two clients made at once must both see the other's raise.
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  // What is open now (other clients' hosts included), and room for the
  // application's own files.
  std::size_t open = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error))
    ++open;
  const std::size_t base = open + 64;
  const std::size_t needed = base + hosts * descriptors_per_host;
  const std::size_t wanted = needed + hosts * 2;  // an agent connection and its duplicate
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    if (raised.rlim_cur > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    throw std::system_error(
        std::make_error_code(std::errc::too_many_files_open),
        std::to_string(hosts) + " hosts need " + std::to_string(needed) + " descriptors (" +
            std::to_string(descriptors_per_host) + " per host, " + std::to_string(open) +
            " open now, 64 spare), but RLIMIT_NOFILE allows only " + std::to_string(limit.rlim_cur) +
            " (hard limit " + std::to_string(limit.rlim_max) + "; root raises it: ulimit -Hn, " +
            "LimitNOFILE= in a systemd unit, nofile in /etc/security/limits.conf), or use fewer " +
            "hosts per process");
  }
}

}  // namespace pssh::detail
