// The output benchmark: bulk output through the pssh command's output modes
// next to `xargs -P` running OpenSSH's ssh per host, then through the
// library's chunk API and on_output sink next to ssh, cipher by cipher. All
// on one throwaway sshd in one run; figures and ratios, never asserted.
//
//   sudo meson test -C build --benchmark --verbose output
//   sudo PSSH_CLI=build/cli/pssh ./build/tests/bench/pssh-bench-output [CLI MB] [API MB]
//
// Hosts print `head -c N /dev/zero | tr '\0' a`: one line without a newline,
// the shape that a line-based path would hold whole.
#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <libssh/libssh.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t hosts = 10;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double cpu_of(const rusage& usage) {
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long status_kib(pid_t pid, const char* field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string prefix = std::string(field) + ":";
  for (std::string line; std::getline(status, line);)
    if (line.rfind(prefix, 0) == 0) return std::atol(line.c_str() + prefix.size());
  return 0;
}

/// VmRSS summed over `root` and every process below it.
long tree_rss_kib(pid_t root) {
  std::map<pid_t, pid_t> parent;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    pid_t pid = std::atoi(entry.path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    std::sscanf(text.c_str() + close + 2, "%*c %d", &ppid);
    parent[pid] = ppid;
  }
  long total = 0;
  for (const auto& [pid, ppid] : parent) {
    for (pid_t up = pid; up > 1; up = parent.count(up) ? parent[up] : 0) {
      if (up == root) {
        total += status_kib(pid, "VmRSS");
        break;
      }
    }
  }
  return total;
}

struct Usage {
  double wall = 0, cpu = 0;
  long peak_rss_kib = 0;  ///< the whole process tree, sampled
};

/// Runs a shell command line and measures it with everything it started.
Usage measure_command(const std::string& command) {
  Usage usage;
  auto start = Clock::now();
  pid_t pid = rig::spawn({"sh", "-c", command});
  for (;;) {
    int status = 0;
    rusage children{};
    if (::wait4(pid, &status, WNOHANG, &children) == pid) {
      usage.wall = seconds(start);
      usage.cpu = cpu_of(children);
      usage.peak_rss_kib = std::max(usage.peak_rss_kib, children.ru_maxrss);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        std::fprintf(stderr, "warning: exit status %d from: %s\n", WEXITSTATUS(status), command.c_str());
      return usage;
    }
    usage.peak_rss_kib = std::max(usage.peak_rss_kib, tree_rss_kib(pid));
    std::this_thread::sleep_for(20ms);
  }
}

std::string sh_quoted(const std::string& text) { return pssh::shell_quote(text); }

std::string producer(std::size_t bytes) {
  return "head -c " + std::to_string(bytes) + " /dev/zero | tr '\\0' a";
}

std::string host_list() {
  std::string list;
  for (const auto& h : rig::loopback_hosts(hosts)) list += h + "\n";
  return list;
}

std::string ssh_command(const rig::Sshd& sshd, const std::string& extra = {}) {
  return "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
         "-o LogLevel=ERROR " + extra + " -i " + sh_quoted(sshd.user_key().string()) + " -p " +
         std::to_string(sshd.port());
}

void print_row(const char* name, const Usage& u, const Usage& base, std::size_t bytes_per_host) {
  std::printf("%-34s %7.2f s %8.1f ms %8.1f MiB | %5.2fx %5.2fx %5.2fx | %6.1f MB/s per host\n", name,
              u.wall, u.cpu * 1000 / hosts, static_cast<double>(u.peak_rss_kib) / 1024, u.wall / base.wall,
              u.cpu / base.cpu, static_cast<double>(u.peak_rss_kib) / static_cast<double>(base.peak_rss_kib),
              static_cast<double>(bytes_per_host) / 1e6 / u.wall);
}

void print_header(const char* title) {
  std::printf("\n%s\n%-34s %9s %11s %12s | %-19s |\n", title, "", "wall", "CPU/host", "peak RSS",
              "wall  CPU   RSS vs ssh");
}

/// 10 hosts through the pssh command, each mode, next to xargs -P + ssh.
void cli_benchmark(const rig::Sshd& sshd, const std::string& cli, std::size_t bytes) {
  rig::TempDir dir;
  rig::write_file(dir.path() / "hosts", host_list());
  rig::write_file(dir.path() / "empty_config", "");
  std::string command = producer(bytes);
  std::string out = (dir.path() / "out").string();
  fs::create_directories(out);
  Usage ssh = measure_command(
      "xargs -P " + std::to_string(hosts) + " -I{} sh -c " +
      sh_quoted("exec " + ssh_command(sshd) + " {} " + sh_quoted(command) + " > " + sh_quoted(out) + "/{}") + " < " +
      sh_quoted((dir.path() / "hosts").string()));
  std::string pssh = sh_quoted(cli) + " -F " + sh_quoted((dir.path() / "empty_config").string()) + " --port " +
                     std::to_string(sshd.port()) + " -O IdentityFile=" + sh_quoted(sshd.user_key().string()) +
                     " -O StrictHostKeyChecking=no -O UserKnownHostsFile=/dev/null -t 0 -h " +
                     sh_quoted((dir.path() / "hosts").string()) + " ";
  std::string printed = " > " + sh_quoted((dir.path() / "printed").string());
  char title[160];
  std::snprintf(title, sizeof title, "pssh command, %zu hosts x %zu MB in one line each (wall, CPU, RSS of the whole process tree)", hosts, bytes / 1000000);
  print_header(title);
  print_row("xargs -P + ssh, > DIR/host", ssh, ssh, bytes);
  print_row("pssh -o DIR", measure_command(pssh + "-o " + sh_quoted(out) + " " + sh_quoted(command) + printed), ssh, bytes);
  print_row("pssh -i", measure_command(pssh + "-i " + sh_quoted(command) + printed), ssh, bytes);
  print_row("pssh -P (host: line)", measure_command(pssh + "-P " + sh_quoted(command) + printed), ssh, bytes);
}

/// Peak VmRSS of this process while `work` runs, sampled.
template <class Work>
Usage measure_self(Work work) {
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  long base = status_kib(::getpid(), "VmRSS");
  std::atomic<bool> done{false};
  std::atomic<long> peak{0};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), status_kib(::getpid(), "VmRSS") - base);
      std::this_thread::sleep_for(10ms);
    }
  });
  auto start = Clock::now();
  work();
  Usage usage;
  usage.wall = seconds(start);
  done = true;
  sampler.join();
  ::getrusage(RUSAGE_SELF, &after);
  usage.cpu = cpu_of(after) - cpu_of(before);
  usage.peak_rss_kib = std::max(1L, peak.load());
  return usage;
}

/// The options, with `cipher` first through an ssh config (the way users
/// choose one: pssh has no option field for it).
pssh::ClientOptions client_options(const rig::Sshd& sshd, const std::string& cipher,
                                   const rig::TempDir& dir) {
  auto options = sshd.options();
  options.host_key_policy = pssh::HostKeyPolicy::ignore;
  options.max_buffered_output = 1 << 20;
  if (!cipher.empty()) {
    auto config = dir.path() / ("config-" + cipher);
    rig::write_file(config, "Ciphers " + cipher + "\n");
    options.ssh_config = config.string();
  }
  return options;
}

void check(const pssh::Output& output, std::size_t bytes, const std::vector<std::size_t>& got) {
  for (std::size_t i = 0; i < output.size(); ++i) {
    if (output[i].exception()) std::rethrow_exception(output[i].exception());
    if (got[i] != bytes) std::fprintf(stderr, "warning: %s gave %zu bytes\n", output[i].host().c_str(), got[i]);
  }
}

Usage chunk_reader_run(const rig::Sshd& sshd, const std::string& cipher, std::size_t bytes) {
  rig::TempDir dir;
  pssh::ParallelClient client(rig::loopback_hosts(hosts), client_options(sshd, cipher, dir));
  client.connect_auth();
  return measure_self([&] {
    auto output = client.run_command(producer(bytes));
    std::vector<std::size_t> got(hosts, 0);
    std::vector<std::thread> readers;
    for (std::size_t i = 0; i < hosts; ++i)
      readers.emplace_back([&, i] {
        for (const auto& chunk : output[i].stdout_chunks()) got[i] += chunk.size();
      });
    for (auto& r : readers) r.join();
    client.join(output);
    check(output, bytes, got);
  });
}

Usage sink_run(const rig::Sshd& sshd, const std::string& cipher, std::size_t bytes) {
  rig::TempDir dir;
  pssh::ParallelClient client(rig::loopback_hosts(hosts), client_options(sshd, cipher, dir));
  client.connect_auth();
  return measure_self([&] {
    std::vector<std::size_t> got(hosts, 0);
    auto output = client.run_command(
        producer(bytes), {.on_output = [&got](const pssh::HostOutput& h, pssh::Stream, std::string_view b) {
          got[h.index()] += b.size();
        }});
    client.join(output);
    check(output, bytes, got);
  });
}

/// The library's byte paths, each cipher, next to ssh > /dev/null.
void api_benchmark(const rig::Sshd& sshd, std::size_t bytes) {
  rig::TempDir dir;
  rig::write_file(dir.path() / "hosts", host_list());
  auto ssh_with = [&](const std::string& cipher) {
    return measure_command("xargs -P " + std::to_string(hosts) + " -I{} sh -c " +
                           sh_quoted("exec " + ssh_command(sshd, cipher.empty() ? "" : "-c " + cipher) +
                                  " {} " + sh_quoted(producer(bytes)) + " > /dev/null") +
                           " < " + sh_quoted((dir.path() / "hosts").string()));
  };
  char title[200];
  std::snprintf(title, sizeof title,
                "library, %zu hosts x %zu MB, connected first; RSS: this process's growth (ssh: its tree)",
                hosts, bytes / 1000000);
  print_header(title);
  Usage ssh = ssh_with("");
  print_row("ssh > /dev/null (its default cipher)", ssh, ssh, bytes);
  for (const std::string cipher : {"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"}) {
    Usage u = ssh_with(cipher);
    print_row(("ssh -c " + cipher.substr(0, cipher.find('@'))).c_str(), u, ssh, bytes);
  }
  for (const std::string cipher : {"", "chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com",
                                   "aes256-gcm@openssh.com", "aes128-ctr"}) {
    std::string name = cipher.empty() ? "pssh's default" : cipher.substr(0, cipher.find('@'));
    print_row(("chunks, " + name).c_str(), chunk_reader_run(sshd, cipher, bytes), ssh, bytes);
    print_row(("on_output, " + name).c_str(), sink_run(sshd, cipher, bytes), ssh, bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t cli_mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20;
  std::size_t api_mb = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  rig::TempDir home;
  ::setenv("HOME", home.path().c_str(), 1);
  ::unsetenv("SSH_AUTH_SOCK");
  rig::Sshd sshd;
  std::printf("pssh output benchmark: %u cores, libssh %s\n", std::thread::hardware_concurrency(),
              ssh_version(0));
  if (const char* cli = std::getenv("PSSH_CLI")) cli_benchmark(sshd, cli, cli_mb * 1000000);
  else std::printf("(PSSH_CLI unset: the pssh command's rows are left out)\n");
  api_benchmark(sshd, api_mb * 1000000);
  return 0;
}
