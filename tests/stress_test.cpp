// Concurrency stress: several threads drive one client with random
// interleavings of every public call a user makes, and the client is
// sometimes destroyed while its hosts still run. Each iteration has an outer
// deadline; TSan and ASan builds run it too.
#include "common.hpp"

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

using namespace std::chrono_literals;

namespace {

const char* const commands[] = {
    "echo a; sleep 0.{0}; echo b",
    "cat",
    "head -c 200000 /dev/zero | tr '\\0' x; echo; echo done >&2",
    "echo out; echo err >&2; exit 3",
    "sleep 0.{0}",
    "head -n1",
};

/// The outputs of every run of one iteration, shared by its threads.
class Runs {
 public:
  void add(pssh::Output output) {
    std::lock_guard lock(mutex_);
    for (auto& h : output) all_.push_back(h);
  }
  std::optional<pssh::HostOutput> pick(std::mt19937& random) {
    std::lock_guard lock(mutex_);
    if (all_.empty()) return std::nullopt;
    return all_[random() % all_.size()];
  }
  pssh::Output all() {
    std::lock_guard lock(mutex_);
    return all_;
  }

 private:
  std::mutex mutex_;
  pssh::Output all_;
};

void random_call(pssh::ParallelClient& client, Runs& runs, std::mt19937& random,
                 const std::vector<std::string>& hosts) {
  switch (random() % 9) {
    case 0:
    case 1: {
      std::vector<pssh::HostArgs> args;
      for (std::size_t i = 0; i < hosts.size(); ++i)
        args.emplace_back(std::vector<std::string>{std::to_string(random() % 3)});
      pssh::RunOptions options{.stop_on_errors = false};
      if (random() % 3 == 0) options.command_timeout = std::chrono::milliseconds(100 + random() % 300);
      // As many arguments as the longest host list another thread may set.
      options.host_args = std::move(args);
      runs.add(client.run_command(commands[random() % std::size(commands)], options));
      break;
    }
    case 2:
      if (auto h = runs.pick(random)) {
        auto in = h->stdin_writer();
        in.write("line\n");
        if (random() % 2) in.close();
      }
      break;
    case 3:
      if (auto h = runs.pick(random)) h->close_channel();
      break;
    case 4:
      if (random() % 3 == 0) client.cancel();
      break;
    case 5:
      try {
        client.join({.join_timeout = std::chrono::milliseconds(random() % 200)});
      } catch (const pssh::JoinTimeout&) {
      }
      break;
    case 6: {
      auto changed = hosts;
      changed.resize(1 + random() % hosts.size());
      client.set_hosts(changed);
      CHECK_FALSE(client.hosts().empty());
      break;
    }
    case 7:
      if (auto h = runs.pick(random)) {
        h->set_read_timeout(50ms);
        try {
          for (const std::string& line : h->stdout_lines()) (void)line;
        } catch (const pssh::Timeout&) {
        }
      }
      break;
    default:
      if (auto h = runs.pick(random)) (void)h->finished(), (void)h->exit_code();
      break;
  }
}

}  // namespace

TEST_SUITE("stress") {
  TEST_CASE("threads race every call on one client; clients are destroyed mid-run") {
    const int iterations = slowdown > 1 ? 40 : 200;
    const auto hosts = rig::loopback_hosts(6);
    std::mt19937 random(20261130);
    std::unique_ptr<pssh::ParallelClient> client;
    for (int iteration = 0; iteration < iterations; ++iteration) {
      INFO("iteration " << iteration);
      if (!client) {
        auto options = server().options();
        options.pool_size = 1 + random() % 6;
        options.max_buffered_output = random() % 2 ? 0 : 4096;
        options.on_event = [](const pssh::Event& e) {
          if (e.kind == pssh::Event::Kind::line && e.text == "b") throw std::logic_error("handler");
        };
        client = std::make_unique<pssh::ParallelClient>(hosts, options);
      }
      Runs runs;
      within(90s, [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
          threads.emplace_back([&, seed = random()] {
            std::mt19937 own(seed);
            for (int call = 0; call < 6; ++call) random_call(*client, runs, own, hosts);
          });
        }
        for (auto& thread : threads) thread.join();
        // Every run must come to an end, whatever the calls left behind:
        // the outputs outlive a destroyed client, and their streams end.
        if (random() % 5 == 0) {
          client.reset();
        } else {
          client->cancel();
          client->join(runs.all());
        }
        for (auto& h : runs.all()) {
          h.set_read_timeout(pssh::duration::zero());
          (void)lines(h.stdout_lines());
          (void)lines(h.stderr_lines());
          CHECK(h.finished());
        }
      });
    }
  }
}
