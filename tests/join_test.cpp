// join, timeouts, cancel, consume_output and back-pressure.
#include "common.hpp"

#include <sys/resource.h>

#include <filesystem>
#include <thread>

using namespace std::chrono_literals;

namespace {

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int remote_processes(const std::string& pattern) {
  std::string out;
  rig::run({"pgrep", "-f", pattern}, &out);
  return static_cast<int>(std::count(out.begin(), out.end(), '\n'));
}

}  // namespace

TEST_SUITE("join") {
  TEST_CASE("a join timeout reports finished and unfinished hosts; a later join waits for the rest") {
    pssh::ParallelClient client(rig::loopback_hosts(4), server().options());
    std::vector<pssh::HostArgs> args;
    for (const char* s : {"0", "2", "0", "2"}) args.emplace_back(std::in_place_index<0>, 1, s);
    auto output = client.run_command("sleep {}", {.host_args = args});
    try {
      client.join(output, {.join_timeout = 1s});
      FAIL("expected JoinTimeout");
    } catch (const pssh::JoinTimeout& e) {
      CHECK(std::string(e.what()).find("join timed out after 1 s: 2 of 4 hosts still running") == 0);
      REQUIRE(e.finished_output().size() == 2);
      REQUIRE(e.unfinished_output().size() == 2);
      CHECK(e.finished_output()[0].index() == 0);
      CHECK(e.unfinished_output()[1].index() == 3);
    }
    CHECK_FALSE(client.finished(output));
    client.join();
    CHECK(client.finished(output));
    for (const auto& h : output) CHECK(h.exit_code() == 0);
  }

  TEST_CASE("cancel() from another thread stops a 1000-second command on 50 hosts within a second") {
    // As a normal user: sshd refuses to deliver signals into root sessions.
    const auto& user = rig::password_user();
    auto options = server().options();
    options.pkey.reset();
    options.user = user.name;
    options.password = user.password;
    options.pool_size = 50;
    pssh::ParallelClient client(rig::loopback_hosts(50), options);
    auto output = client.run_command("sleep 1000.25");
    CHECK(eventually([] { return remote_processes("sleep 1000.25") >= 50; }));
    auto start = std::chrono::steady_clock::now();
    std::thread stopper([&] { client.cancel(); });
    client.join(output);
    stopper.join();
    CHECK(seconds_since(start) < 1.0 * slowdown);
    int cancelled = 0;
    for (const auto& h : output) cancelled += host_error_is<pssh::Cancelled>(h);
    CHECK(cancelled == 50);
    CHECK(eventually([] { return remote_processes("sleep 1000.25") == 0; }));  // TERM reached them
  }

  TEST_CASE("cancel() also stops hosts still connecting") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    auto options = server().options();
    options.port = blackhole.port();
    pssh::ParallelClient client(std::vector<std::string>(5, "127.0.0.1"), options);
    CHECK(seconds_to_cancel(client, 200ms) < 1.0 * slowdown);
    for (const auto& h : client.get_last_output()) CHECK(host_error_is<pssh::Cancelled>(h));
  }

  TEST_CASE("a command timeout applies to every host") {
    pssh::ParallelClient client(rig::loopback_hosts(10), server().options());
    client.connect_auth();  // the deadline below is the command's, not the logins'
    auto start = std::chrono::steady_clock::now();
    auto output = client.run_command("sleep 100", {.stop_on_errors = false, .command_timeout = 500ms});
    client.join(output);
    CHECK(seconds_since(start) < 2.5 * slowdown);
    for (const auto& h : output) {
      CHECK(host_error_is<pssh::Timeout>(h));
      CHECK_FALSE(h.exit_code());
    }
  }

  TEST_CASE("consume_output discards what nobody read") {
    pssh::ParallelClient client(rig::loopback_hosts(3), server().options());
    auto output = client.run_command("seq 1 10000");
    client.join(output, {.join_timeout = {}, .consume_output = true});
    for (const auto& h : output) {
      CHECK(lines(h.stdout_lines()).empty());
      CHECK(h.exit_code() == 0);
    }
  }

  TEST_CASE("max_buffered_output holds the command back until the caller reads") {
    auto flag = server().dir() / "home" / "backpressure-done";
    std::filesystem::remove(flag);
    auto options = server().options();
    options.max_buffered_output = 64 * 1024;
    pssh::ParallelClient client({"127.0.0.2"}, options);
    auto output = client.run_command("seq 1 3000000; touch " + flag.string());
    long count = 0;
    check_held_back([&] { return std::filesystem::exists(flag); }, [&] {
      for (const auto& line : output[0].stdout_lines()) count += !line.empty();
      client.join(output);
    });
    CHECK(count == 3000000);
  }

  TEST_CASE("a run nobody reads does not hold back the next run on its connection") {
    // Default options: the first run's output stops at the cap unless the
    // second run, which waits for the connection, lifts it.
    pssh::ParallelClient client({"127.0.0.2"}, server().options());
    auto first = client.run_command("head -c 30000000 /dev/zero");
    auto second = client.run_command("echo second");
    within(60s, [&] { client.join(second); });
    CHECK(lines(second[0].stdout_lines()) == std::vector<std::string>{"second"});
    client.join(first);
    CHECK(read_chunks(first[0].stdout_chunks()).size() == 30'000'000);
  }

  TEST_CASE("join() lifts the cap of every host at once, not host by host") {
    // Host 0 ends last; host 1 writes far more than the cap meanwhile and
    // must end on its own, not only once join() reaches it.
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, server().options());
    std::vector<pssh::HostArgs> args;
    for (const char* command : {"sleep 60", "head -c 30000000 /dev/zero"})
      args.emplace_back(std::in_place_index<0>, 1, command);
    auto output = client.run_command("{}", {.command_timeout = 8s * static_cast<int>(slowdown), .host_args = args});
    client.join(output);
    CHECK(host_error_is<pssh::Timeout>(output[0]));
    INFO(error_message(output[1]));
    CHECK(output[1].exit_code() == 0);
    CHECK(read_chunks(output[1].stdout_chunks()).size() == 30'000'000);
  }

  TEST_CASE("waiting costs no CPU") {
    pssh::ParallelClient client(rig::loopback_hosts(20), server().options());
    auto output = client.run_command("sleep 2");
    double before = cpu_seconds();
    client.join(output);
    CHECK(cpu_seconds() - before < 0.2 * slowdown);
  }
}
