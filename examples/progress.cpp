// What a desktop tool does: drive a progress display from events, offer a
// Stop button (here: Ctrl-C, or a deadline), and print nothing by itself.
// Starts a throwaway sshd like the demo.
//
//   sudo ./build/examples/pssh-progress [hosts] [seconds before Stop]
#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace {

std::atomic<bool> stop_pressed{false};

void on_interrupt(int) { stop_pressed = true; }

/// The "window": counters the event callback updates from worker threads.
struct Progress {
  std::atomic<int> connected{0}, started{0}, finished{0}, failed{0};
  void on_event(const pssh::Event& e) {
    switch (e.kind) {
      case pssh::Event::Kind::authenticated: ++connected; break;
      case pssh::Event::Kind::started: ++started; break;
      case pssh::Event::Kind::finished: ++finished; break;
      case pssh::Event::Kind::failed: ++failed; break;
      default: break;
    }
  }
  void draw(std::size_t total) const {
    int done = finished + failed;
    int width = 40, filled = static_cast<int>(width * done / static_cast<int>(total));
    std::cout << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] "
              << done << "/" << total << "  connected " << connected << "  started " << started
              << "  failed " << failed << std::flush;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 40;
  double stop_after = argc > 2 ? std::strtod(argv[2], nullptr) : 3.0;
  std::signal(SIGINT, on_interrupt);
  rig::TempDir home;
  ::setenv("HOME", home.path().c_str(), 1);
  rig::Sshd sshd({.listeners = 2, .extra_config = {}, .host_key = {}});

  Progress progress;
  auto options = sshd.options();
  options.pool_size = count;
  options.on_event = [&progress](const pssh::Event& e) { progress.on_event(e); };
  pssh::ParallelClient client(rig::loopback_hosts(count), options, sshd.spread(count));
  std::vector<pssh::HostArgs> args;
  for (std::size_t i = 0; i < count; ++i)
    args.emplace_back(std::vector<std::string>{std::to_string(i % 6)});
  auto output = client.run_command("sleep {0}; echo slept {0}", {.stop_on_errors = false, .host_args = args});

  auto start = std::chrono::steady_clock::now();
  bool stopped = false;
  while (!client.finished(output)) {
    progress.draw(count);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!stopped && (stop_pressed || elapsed > stop_after)) {
      client.cancel();  // the Stop button: every host still running reports Cancelled
      stopped = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  client.join(output, {.consume_output = true});
  progress.draw(count);
  int cancelled = 0;
  for (const auto& h : output) {
    try {
      if (h.exception()) std::rethrow_exception(h.exception());
    } catch (const pssh::Cancelled&) {
      ++cancelled;
    } catch (...) {
    }
  }
  std::cout << "\n" << progress.finished << " finished, " << cancelled << " stopped by the Stop button\n";
  return 0;
}
