// What every test file shares: the suite's sshd and small helpers.
#pragma once

#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

/// True in a -Db_sanitize=address build.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitizer = true;
#else
inline constexpr bool address_sanitizer = false;
#endif

/// How much longer a step may take in a sanitizer build, which runs several
/// times slower: deadline checks keep their meaning without flaking there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr double slowdown = 4.0;
#else
inline constexpr double slowdown = 1.0;
#endif

/// The suite's sshd, started on first use and stopped at exit.
rig::Sshd& server();

/// Every line of a stream, read to its end.
std::vector<std::string> lines(pssh::LineRange range);

/// Entries of a /proc directory: open_fds() counts /proc/self/fd.
int entries_in(const char* directory);
/// Every chunk of `range`, joined; checks none is empty; the largest's size
/// in `largest` if given.
std::string read_chunks(pssh::ChunkRange range, std::size_t* largest = nullptr);
/// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if missing.
long proc_status_kib(const std::string& field);
inline int open_fds() { return entries_in("/proc/self/fd"); }

/// The pssh command under one of its names (pssh, pscp, pslurp, pnuke):
/// a link of that name to PSSH_CLI, which acts on the name it is called by.
std::filesystem::path cli_program(const std::string& program);

/// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

/// Runs `true` on every host of `client` in another thread, calls cancel()
/// `after` that, and returns the seconds from cancel() until all were done.
double seconds_to_cancel(pssh::ParallelClient& client, std::chrono::milliseconds after);

/// Whether `condition` holds within `limit` (longer in sanitizer builds),
/// asked every 20 ms: for what another process (sshd, a fake server)
/// finishes on its own time.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(10));

/// For a command that max_buffered_output holds back until the caller reads:
/// checks that `finished` stays false for a while nobody reads, then that
/// `read_all` (which reads the command's output and waits for its end) takes
/// less than that while. Unheld, the command would have ended as fast as it
/// is read, so the first check cannot pass for a window too short to tell.
void check_held_back(const std::function<bool()>& finished, const std::function<void()>& read_all);

/// Runs `body` on a thread; a body still running after `limit` (longer in
/// sanitizer builds) is a hang, reported before the process ends: a hung
/// thread cannot be stopped.
void within(std::chrono::seconds limit, const std::function<void()>& body);

/// The message of the error, or "" if there is none.
using pssh::error_message;
/// The message of the host's error, or "" if it has none.
inline std::string error_message(const pssh::HostOutput& output) { return error_message(output.exception()); }

/// Runs `call` and checks it throws exactly E with a message containing `part`.
#define CHECK_THROWS_CONTAINING(call, E, part)                                  \
  do {                                                                        \
    try {                                                                     \
      call;                                                                   \
      FAIL("expected " #E " from " #call);                                    \
    } catch (const E& e) {                                                    \
      INFO("message: " << e.what());                                          \
      CHECK(std::string(e.what()).find(part) != std::string::npos);           \
    }                                                                         \
  } while (false)

/// There is an error, and it is an E.
template <class E>
bool error_is(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}
/// The host failed, with an E.
template <class E>
bool host_error_is(const pssh::HostOutput& output) {
  return error_is<E>(output.exception());
}
