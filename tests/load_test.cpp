// Load: 1000 hosts at once, a 20-round soak on one client, and 1 GiB of
// output from one host, all with bounded memory; what a client of hundreds
// leaves behind, and the descriptor limit it needs. Not run under sanitizers.
#include "common.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

using namespace std::chrono_literals;

namespace {

rlimit fd_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit;
}

/// RLIMIT_NOFILE set for one test case, and the old one back after it
/// (raising the hard limit back needs root).
class FdLimitScope {
 public:
  FdLimitScope(rlim_t soft, rlim_t hard) : saved_(fd_limit()) {
    rlimit limit{soft, hard};
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  ~FdLimitScope() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  FdLimitScope(const FdLimitScope&) = delete;
  FdLimitScope& operator=(const FdLimitScope&) = delete;

 private:
  rlimit saved_;
};

int thread_count() { return entries_in("/proc/self/task"); }

/// Runs `true` on every host; every exit code must be 0.
void run_true(pssh::ParallelClient& client) {
  auto output = client.run_command("true");
  client.join(output);
  for (const auto& h : output) CHECK_MESSAGE(h.exit_code() == 0, h.host() << ": " << error_message(h));
}

std::vector<pssh::HostArgs> numbered(std::size_t count) {
  std::vector<pssh::HostArgs> args;
  for (std::size_t i = 0; i < count; ++i) args.emplace_back(std::vector<std::string>{std::to_string(i)});
  return args;
}

}  // namespace

TEST_SUITE("load") {
  TEST_CASE("1000 hosts with pool_size 1000: every output and exit code is right") {
    const std::size_t count = 1000;  // 8 listeners (sshd allows 16 sockets): 1024 queued connects
    rig::Sshd wide({.listeners = 8, .extra_config = {}, .host_key = {}});
    auto options = wide.options();
    options.pool_size = count;
    options.timeout = 120s;
    pssh::ParallelClient client(rig::loopback_hosts(count), options, wide.spread(count));
    auto start = std::chrono::steady_clock::now();
    auto output = client.run_command("echo $(({0} * 3)); exit $(({0} % 7))",
                                     {.stop_on_errors = false, .host_args = numbered(count)});
    client.join(output);
    MESSAGE("1000 hosts: " << seconds_since(start) << " s");
    int wrong = 0;
    for (std::size_t i = 0; i < count; ++i) {
      bool right = !output[i].exception() && output[i].exit_code() == static_cast<int>(i % 7) &&
                   lines(output[i].stdout_lines()) == std::vector<std::string>{std::to_string(i * 3)};
      if (!right && wrong < 5) MESSAGE(output[i].host() << ": " << error_message(output[i]));
      wrong += !right;
    }
    CHECK(wrong == 0);
  }

  TEST_CASE("a soak of 20 rounds on one client keeps RSS and descriptors flat") {
    const std::size_t count = 100;
    auto options = server().options();
    options.pool_size = count;
    pssh::ParallelClient client(rig::loopback_hosts(count), options);
    auto round = [&] {
      auto output = client.run_command("echo {0}; seq 1 500 | tail -n 1", {.host_args = numbered(count)});
      client.join(output);
      for (auto& h : output) {
        CHECK(h.exit_code() == 0);
        CHECK(lines(h.stdout_lines()).size() == 2);
      }
    };
    round();
    round();
    long rss_before = proc_status_kib("VmRSS");
    int fds_before = open_fds();
    for (int i = 0; i < 18; ++i) round();
    long rss_after = proc_status_kib("VmRSS");
    MESSAGE("soak: RSS " << rss_before << " KiB after 2 rounds, " << rss_after << " KiB after 20");
    CHECK(open_fds() == fds_before);
    CHECK(rss_after - rss_before < 8 * 1024);
  }

  TEST_CASE("1 GiB of output read line by line stays in bounded memory; consume_output keeps nothing") {
    const std::string gigabyte =
        "head -c 1073741824 /dev/zero | tr '\\0' 'x' | fold -w 1023";  // 1 Mi lines of 1 KiB
    auto options = server().options();
    options.max_buffered_output = 1 << 20;
    pssh::Client client("127.0.0.2", options);
    long rss_start = proc_status_kib("VmRSS"), rss_peak = rss_start;
    auto output = client.run_command(gigabyte);
    std::uint64_t bytes = 0, count = 0;
    for (const std::string& line : output.stdout_lines()) {
      bytes += line.size();  // the x bytes, without the newlines fold added
      if (++count % 65536 == 0) rss_peak = std::max(rss_peak, proc_status_kib("VmRSS"));
    }
    client.wait_finished(output);
    MESSAGE("1 GiB read: RSS grew by at most " << (rss_peak - rss_start) << " KiB");
    CHECK(bytes == (1ull << 30));
    CHECK(output.exit_code() == 0);
    CHECK(rss_peak - rss_start < 64 * 1024);

    pssh::ParallelClient discarding({"127.0.0.2"}, server().options());
    long rss_before = proc_status_kib("VmRSS");
    auto unread = discarding.run_command(gigabyte);
    discarding.join(unread, {.consume_output = true});
    long rss_after = proc_status_kib("VmRSS");
    MESSAGE("1 GiB consumed: RSS grew by " << (rss_after - rss_before) << " KiB");
    CHECK(unread[0].exit_code() == 0);
    CHECK(lines(unread[0].stdout_lines()).empty());
    CHECK(rss_after - rss_before < 64 * 1024);
  }

  TEST_CASE("a client of 200 hosts leaves no thread and no descriptor once destroyed") {
    const std::size_t count = 200;
    rig::Sshd wide({.listeners = 2, .extra_config = {}, .host_key = {}});
    auto options = wide.options();
    options.pool_size = count;
    const int threads_before = thread_count(), fds_before = open_fds();
    {
      pssh::ParallelClient client(rig::loopback_hosts(count), options, wide.spread(count));
      client.connect_auth();
      MESSAGE("200 hosts connected: " << thread_count() - threads_before << " more threads, "
                                      << open_fds() - fds_before << " more descriptors");
      CHECK(thread_count() > threads_before + static_cast<int>(count) / 2);  // workers were made
      run_true(client);
    }
    // The last client's end joins TBB's workers (tbb::finalize); the kernel
    // may list a joined thread for a moment longer.
    CHECK(eventually([&] { return thread_count() == threads_before; }, 2s));
    CHECK(open_fds() == fds_before);
  }

  TEST_CASE("a soft RLIMIT_NOFILE too low for the hosts is raised as far as they need") {
    rig::Sshd wide({.listeners = 2, .extra_config = {}, .host_key = {}});  // keeps the usual limit
    const rlimit saved = fd_limit();
    REQUIRE(saved.rlim_max >= 4096);
    FdLimitScope scope(256, saved.rlim_max);  // 200 hosts need 600 and more
    auto options = wide.options();
    options.pool_size = 200;
    pssh::ParallelClient client(rig::loopback_hosts(200), options, wide.spread(200));
    rlimit raised = fd_limit();
    CHECK(raised.rlim_cur >= static_cast<rlim_t>(open_fds()) + 200 * 3);
    CHECK(raised.rlim_cur < saved.rlim_max);  // as far as needed, not to the hard limit
    CHECK(raised.rlim_max == saved.rlim_max);
    client.connect_auth();
    run_true(client);
    // Hosts added later are covered too, on top of the connected ones.
    client.set_hosts(rig::loopback_hosts(400), wide.spread(400));
    CHECK(fd_limit().rlim_cur >= static_cast<rlim_t>(open_fds()) + 200 * 3);
  }

  TEST_CASE("a hard RLIMIT_NOFILE too low for the hosts is an error naming it and the fix" *
            doctest::skip(::geteuid() != 0) *
            doctest::description("only root can raise the hard limit back")) {
    auto options = server().options();  // its sshd started under the usual limit
    FdLimitScope scope(512, 512);
    try {
      pssh::ParallelClient client(rig::loopback_hosts(2000), options);
      FAIL("2000 hosts were accepted under a limit of 512 descriptors");
    } catch (const std::system_error& e) {
      MESSAGE(std::string(e.what()));
      CHECK(e.code() == std::errc::too_many_files_open);
      CHECK(std::string(e.what()).find("RLIMIT_NOFILE") != std::string::npos);
      CHECK(std::string(e.what()).find("ulimit -Hn") != std::string::npos);
    }
    CHECK(fd_limit().rlim_cur == 512);  // nothing raised past the hard limit
  }
}
