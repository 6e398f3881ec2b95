// enable_host_logger(): off by default, so the library prints nothing unasked.
#include "text/logging.hpp"

#include <pssh/output.hpp>

#include <atomic>
#include <mutex>
#include <ostream>

namespace pssh {
namespace {
std::atomic<std::ostream*> host_log{nullptr};
std::mutex host_log_mutex;
}  // namespace

void enable_host_logger(std::ostream* out) { host_log.store(out); }

namespace detail {

void log_host_line(std::string_view host, std::string_view line) {
  std::ostream* out = host_log.load(std::memory_order_relaxed);
  if (out == nullptr) return;
  std::lock_guard lock(host_log_mutex);
  *out << '[' << host << "]\t" << line << '\n';
}

bool host_logger_enabled() { return host_log.load(std::memory_order_relaxed) != nullptr; }

}  // namespace detail
}  // namespace pssh
