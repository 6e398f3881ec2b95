// pool_size really bounds how many hosts run at once, above the core count.
#include "common.hpp"

namespace {

rig::Sshd& pool_server() {
  static rig::Sshd instance({.listeners = 4, .extra_config = {}, .host_key = {}});
  return instance;
}

double run_sleepers(std::size_t hosts, std::size_t pool_size) {
  auto options = pool_server().options();
  options.pool_size = pool_size;
  pssh::ParallelClient client(rig::loopback_hosts(hosts), options, pool_server().spread(hosts));
  // Logins first: their time is sshd's CPU (seconds for 100 on 2 cores), and
  // the figure below is about how many commands run at once.
  client.connect_auth();
  auto start = std::chrono::steady_clock::now();
  auto output = client.run_command("sleep 2");
  client.join(output);
  for (const auto& h : output) REQUIRE(h.exit_code() == 0);
  return seconds_since(start);
}

}  // namespace

TEST_SUITE("pool") {
  TEST_CASE("100 hosts sleeping 2 s: pool_size 100 takes about 2 s, pool_size 10 about 20 s") {
    double single = run_sleepers(1, 1);
    double wide = run_sleepers(100, 100);
    double narrow = run_sleepers(100, 10);
    MESSAGE("1 host: " << single << " s, 100 hosts pool 100: " << wide << " s, pool 10: " << narrow << " s");
    // 100 channel opens and execs cost sshd ~2 s of CPU on 2 cores (3.7-4.3 s
    // measured, before this session's changes and after); any cap below 100
    // would add a whole 2 s wave at least (and TBB's own cap, the core count,
    // 100 s).
    CHECK(wide < single + 3.0);
    CHECK(narrow >= 20.0);  // ten waves of 2 s: the arena really is 10 wide
    CHECK(narrow < 40.0);
  }

  TEST_CASE("30 hosts that wait for each other all run at once at pool_size 32, run after run") {
    // Each command returns only once all 30 have started: a host left
    // without a worker (a runner oneTBB never ran) fails every host of its run.
    rig::TempDir dir;
    auto options = pool_server().options();
    options.pool_size = 32;
    // A client each round: the last pool's end ends TBB's workers, so each
    // round starts them again, as each run of a command does.
    for (int round = 0; round < 10; ++round) {
      pssh::ParallelClient client(rig::loopback_hosts(30), options, pool_server().spread(30));
      auto met = dir.path() / std::to_string(round);
      std::filesystem::create_directories(met);
      std::string command = "touch " + met.string() + "/$$; for i in $(seq 600); do "
                            "[ $(ls " + met.string() + " | wc -l) -ge 30 ] && exit 0; sleep 0.1; done; exit 1";
      auto output = client.run_command(command, {.stop_on_errors = false});
      client.join(output);
      for (const auto& h : output) {
        INFO(h.host() << " in round " << round);
        CHECK(h.exit_code() == 0);
      }
    }
  }
}
