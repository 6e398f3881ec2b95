// The demo: starts a throwaway sshd on loopback and runs one command on many
// "hosts" (127.0.0.2, 127.0.0.3, ...) at once with pssh::ParallelClient.
//
//   sudo ./build/examples/pssh-demo [hosts]
#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50;
  rig::TempDir home;  // keeps the demo away from this machine's ~/.ssh
  ::setenv("HOME", home.path().c_str(), 1);
  rig::Sshd sshd({.listeners = 4, .extra_config = {}, .host_key = {}});
  std::cout << "throwaway sshd (pid " << sshd.pid() << ") on ports " << sshd.port(0) << "-"
            << sshd.port(3) << "; " << count << " loopback hosts\n";

  auto options = sshd.options();
  options.pool_size = count;
  pssh::ParallelClient client(rig::loopback_hosts(count), options, sshd.spread(count));
  auto start = std::chrono::steady_clock::now();
  std::vector<pssh::HostArgs> args;
  for (std::size_t i = 0; i < count; ++i) args.emplace_back(std::in_place_index<0>, 1, std::to_string(i));
  auto output = client.run_command(
      "echo \"host {0}: $(echo $SSH_CONNECTION | cut -d' ' -f3) says $(( {0} * {0} ))\"; exit $(( {0} % 3 ))",
      {.stop_on_errors = false, .host_args = args});
  client.join(output);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int failed = 0;
  for (const auto& h : output) {
    for (const auto& line : h.stdout_lines()) std::cout << "[" << h.host() << "]\t" << line << '\n';
    if (auto error = h.exception()) {
      ++failed;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cout << "[" << h.host() << "]\terror: " << e.what() << '\n';
      }
    } else {
      std::cout << "[" << h.host() << "]\texit code " << *h.exit_code() << '\n';
    }
  }
  std::cout << count << " hosts in " << seconds << " s, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
