// The suite's doctest main: makes the environment hermetic first.
#define DOCTEST_CONFIG_IMPLEMENT
#include "common.hpp"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <memory>

rig::Sshd& server() {
  static rig::Sshd instance;
  return instance;
}

std::vector<std::string> lines(pssh::LineRange range) {
  std::vector<std::string> out;
  for (const std::string& line : range) out.push_back(line);
  return out;
}

int entries_in(const char* directory) {
  int count = 0;
  DIR* dir = ::opendir(directory);
  while (::readdir(dir) != nullptr) ++count;
  ::closedir(dir);
  return count;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double seconds_to_cancel(pssh::ParallelClient& client, std::chrono::milliseconds after) {
  std::thread runner([&] { client.run_command("true", {.stop_on_errors = false}); });
  std::this_thread::sleep_for(after);
  auto start = std::chrono::steady_clock::now();
  client.cancel();
  runner.join();
  client.join();
  return seconds_since(start);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void within(std::chrono::seconds limit, const std::function<void()>& body) {
  std::packaged_task<void()> task(body);
  auto done = task.get_future();
  std::thread runner(std::move(task));
  if (done.wait_for(limit * static_cast<int>(slowdown)) != std::future_status::ready) {
    std::fprintf(stderr, "HANG: a test case still runs after %lld s\n",
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
  runner.join();
  done.get();
}

std::string error_message(const pssh::HostOutput& output) {
  if (!output.exception()) return "";
  try {
    std::rethrow_exception(output.exception());
  } catch (const std::exception& e) {
    return e.what();
  }
}

int main(int argc, char** argv) {
  // "~" must never reach the machine's own ~/.ssh, nor its agent.
  static rig::TempDir home;
  ::setenv("HOME", home.path().c_str(), 1);
  ::unsetenv("SSH_AUTH_SOCK");
  doctest::Context context(argc, argv);
  return context.run();
}
