// The engine benchmark: pssh against two baselines on the same throwaway
// sshd, in one run, printed as figures and ratios (never asserted: a busy
// machine would make a timed test flaky).
//
//   sudo meson test -C build --benchmark --verbose     (or ./build/tests/bench/pssh-bench)
//
// For N hosts running `true`: wall time, our process's CPU per host
// (getrusage: sshd's cost is not ours), RSS per connected host; baselines are
// (1) one OpenSSH `ssh` per host in parallel, same key exchange, and (2) a
// bare sequential loop of libssh calls, the floor for this stack. Then idle
// CPU while hosts sleep, and many hosts behind an added 50 ms round trip.
// `pssh-bench files` instead copies 256 MiB over SFTP and SCP next to
// OpenSSH's sftp and scp; `pssh-bench proxy` streams output from 50 hosts
// through one proxy, next to the same hosts direct and OpenSSH's ssh -W;
// `pssh-bench fleet [pool=P] N...` runs thousands of hosts on several sshds
// next to the floor their CPU sets, and counts what the client leaves behind.
#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <libssh/libssh.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kex = "curve25519-sha256";

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// A "Name:   123 kB" field of a /proc file, in KiB.
long proc_kib(const char* path, const std::string& field) {
  std::ifstream status(path);
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return 0;
}

/// Resident set size of this process now, in KiB.
long rss_kib() { return proc_kib("/proc/self/status", "VmRSS"); }

struct Figures {
  double wall = 0, cpu_per_host_ms = 0;
};

pssh::ClientOptions bench_options(const rig::Sshd& sshd, std::size_t hosts) {
  auto options = sshd.options();
  options.pool_size = hosts;
  // The bare loop checks no host key either: the same work on both sides.
  options.host_key_policy = pssh::HostKeyPolicy::ignore;
  return options;
}

void check(const pssh::Output& output) {
  for (const auto& h : output) {
    if (h.exception()) std::rethrow_exception(h.exception());
    if (h.exit_code() != 0) throw std::runtime_error("exit code on " + h.host());
  }
}

/// Entries of a /proc directory ("/proc/self/task": threads, "/proc/self/fd").
int proc_entries(const char* path) {
  std::error_code error;
  int count = 0;
  for (std::filesystem::directory_iterator it(path, error), end; !error && it != end; it.increment(error))
    ++count;
  return count;
}

int thread_count() { return proc_entries("/proc/self/task"); }
int fd_count() { return proc_entries("/proc/self/fd"); }

/// This process while every host is connected (after connect_auth).
struct Connected {
  long rss_per_host_kib = 0;
  int threads = 0, fds = 0;
  long available_kib = 0;  // the machine's MemAvailable: sshd's share shows here
};

/// Connects `hosts`, runs `true` on each, disconnects; the client is gone
/// when this returns.
Figures pssh_run(const std::vector<std::string>& hosts, const pssh::ClientOptions& options,
                 const std::vector<pssh::HostConfig>& config, Connected* connected) {
  const auto n = static_cast<long>(hosts.size());
  long rss_before = rss_kib();
  double cpu = cpu_seconds(RUSAGE_SELF);
  auto start = Clock::now();
  pssh::ParallelClient client(hosts, options, config);
  client.connect_auth();
  if (connected != nullptr) {
    *connected = {(rss_kib() - rss_before) / n, thread_count(), fd_count(),
                  proc_kib("/proc/meminfo", "MemAvailable")};
  }
  auto output = client.run_command("true");
  client.join(output);
  check(output);
  client.disconnect();
  return {seconds(start), (cpu_seconds(RUSAGE_SELF) - cpu) * 1000 / static_cast<double>(n)};
}

Figures pssh_run(const rig::Sshd& sshd, std::size_t n, long* rss_per_host_kib) {
  Connected connected;
  Figures figures = pssh_run(rig::loopback_hosts(n), bench_options(sshd, n), sshd.spread(n), &connected);
  if (rss_per_host_kib != nullptr) *rss_per_host_kib = connected.rss_per_host_kib;
  return figures;
}

std::vector<std::string> ssh_argv(const rig::Sshd& sshd, const std::string& host, int port) {
  return {"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", std::string("KexAlgorithms=") + kex,
          "-o", "LogLevel=ERROR", "-i", sshd.user_key().string(), "-p", std::to_string(port),
          host, "true"};
}

/// Waits for every child; throws if any did not exit 0.
void wait_all(const std::vector<pid_t>& pids, const std::string& what) {
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  if (failed != 0) throw std::runtime_error(std::to_string(failed) + " " + what + " runs failed");
}

Figures ssh_run(const rig::Sshd& sshd, std::size_t n) {
  double cpu = cpu_seconds(RUSAGE_CHILDREN);
  auto start = Clock::now();
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < n; ++i)
    pids.push_back(rig::spawn(ssh_argv(sshd, rig::loopback_host(i), sshd.port(i % 8))));
  wait_all(pids, "ssh");
  return {seconds(start), (cpu_seconds(RUSAGE_CHILDREN) - cpu) * 1000 / static_cast<double>(n)};
}

/// connect, auth, exec `true`, read, close with libssh alone: host `i`.
/// False if any step failed.
bool bare_libssh_try(const rig::Sshd& sshd, ssh_key key, const std::string& user, std::size_t i) {
  ssh_session s = ssh_new();
  unsigned int port = static_cast<unsigned int>(sshd.port(i % 8));
  int yes = 1, no = 0;
  std::string host = rig::loopback_host(i);
  ssh_options_set(s, SSH_OPTIONS_HOST, host.c_str());
  ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  ssh_options_set(s, SSH_OPTIONS_USER, user.c_str());
  ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(s, SSH_OPTIONS_KEY_EXCHANGE, kex);
  long timeout = 120;  // hundreds of logins at once share two cores with sshd
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
  bool ok = ssh_connect(s) == SSH_OK && ssh_userauth_publickey(s, nullptr, key) == SSH_AUTH_SUCCESS;
  ssh_channel c = ok ? ssh_channel_new(s) : nullptr;
  ok = c != nullptr && ssh_channel_open_session(c) == SSH_OK &&
       ssh_channel_request_exec(c, "true") == SSH_OK;
  char buffer[256];
  while (ok && ssh_channel_read(c, buffer, sizeof buffer, 0) > 0) {
  }
  ok = ok && ssh_channel_get_exit_status(c) == 0;
  if (c != nullptr) {
    ssh_channel_close(c);
    ssh_channel_free(c);
  }
  ssh_disconnect(s);
  ssh_free(s);
  return ok;
}

/// bare_libssh_try with up to 3 attempts, as pssh makes by default (sshd
/// drops some of many simultaneous logins: MaxStartups).
void bare_libssh_host(const rig::Sshd& sshd, ssh_key key, const std::string& user, std::size_t i) {
  for (int attempt = 0; attempt < 3; ++attempt)
    if (bare_libssh_try(sshd, key, user, i)) return;
  throw std::runtime_error("bare libssh run failed on " + rig::loopback_host(i));
}

/// The bare libssh floor for `n` hosts: one after another on this thread
/// (`threads` false), or all at once on a thread each, as a thread-per-host
/// client without pssh would (what concurrency costs on these cores).
Figures bare_libssh_run(const rig::Sshd& sshd, std::size_t n, bool threads) {
  ssh_key key = nullptr;
  ssh_pki_import_privkey_file(sshd.user_key().c_str(), nullptr, nullptr, nullptr, &key);
  std::string user = *sshd.options().user;
  double cpu = cpu_seconds(RUSAGE_SELF);
  auto start = Clock::now();
  if (!threads) {
    for (std::size_t i = 0; i < n; ++i) bare_libssh_host(sshd, key, user, i);
  } else {
    std::vector<std::future<void>> runs;
    for (std::size_t i = 0; i < n; ++i)
      runs.push_back(std::async(std::launch::async, bare_libssh_host, std::cref(sshd), key, user, i));
    for (auto& run : runs) run.get();
  }
  ssh_key_free(key);
  return {seconds(start), (cpu_seconds(RUSAGE_SELF) - cpu) * 1000 / static_cast<double>(n)};
}

/// A TCP proxy that holds every byte for `delay` in each direction: +2*delay
/// RTT. It runs in a child process, so that its CPU is not counted as ours.
class DelayProxy {
 public:
  DelayProxy(int target_port, std::chrono::milliseconds delay)
      : target_port_(target_port), delay_(delay) {
    listen_fd_ = rig::listen_tcp(INADDR_ANY, port_);
    child_ = ::fork();
    if (child_ == 0) {
      serve();
      ::_exit(0);
    }
  }
  ~DelayProxy() {
    rig::stop(child_);
    ::close(listen_fd_);
  }
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;
  int port() const { return port_; }

 private:
  struct Pending {
    Clock::time_point due;
    std::string bytes;
  };
  struct Pipe {  // bytes read from a socket, on their way to its peer
    int peer = -1;
    std::deque<Pending> queue;
  };

  void accept_all() {
    for (int client; (client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
      int server = rig::connect_loopback(target_port_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      int one = 1;
      for (int fd : {client, server}) ::setsockopt(fd, IPPROTO_TCP, 1 /*TCP_NODELAY*/, &one, sizeof one);
      pipes_[client].peer = server;
      pipes_[server].peer = client;
    }
  }

  void serve() {
    for (;;) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      auto next_due = Clock::now() + 100ms;
      for (auto& [fd, pipe] : pipes_) {
        fds.push_back({fd, POLLIN, 0});
        if (!pipe.queue.empty()) next_due = std::min(next_due, pipe.queue.front().due);
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - Clock::now());
      ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, wait.count())));
      if (fds[0].revents & POLLIN) accept_all();
      std::vector<int> closed;
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[65536];
        ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0) closed.push_back(fds[i].fd);
        else pipes_[fds[i].fd].queue.push_back({Clock::now() + delay_, std::string(buffer, n)});
      }
      auto now = Clock::now();
      for (auto& [fd, pipe] : pipes_) {
        while (!pipe.queue.empty() && pipe.queue.front().due <= now) {
          const std::string& bytes = pipe.queue.front().bytes;
          [[maybe_unused]] auto n = ::write(pipe.peer, bytes.data(), bytes.size());
          pipe.queue.pop_front();
        }
      }
      for (int fd : closed) {
        auto found = pipes_.find(fd);
        if (found == pipes_.end()) continue;
        int peer = found->second.peer;
        ::close(fd);
        ::close(peer);
        pipes_.erase(fd);
        pipes_.erase(peer);
      }
    }
  }

  int target_port_;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1, port_ = 0;
  pid_t child_ = -1;
  std::map<int, Pipe> pipes_;
};

/// OpenSSH's own client options for the rig's sshd.
std::vector<std::string> openssh_options(const rig::Sshd& sshd) {
  return {"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", sshd.user_key().string(),
          "-P", std::to_string(sshd.port())};
}

long peak_rss_kib() { return proc_kib("/proc/self/status", "VmHWM"); }

/// MB/s of `copy`, which moves `bytes`.
template <class Copy>
double rate(std::uint64_t bytes, Copy&& copy) {
  auto start = Clock::now();
  copy();
  return static_cast<double>(bytes) / 1e6 / seconds(start);
}

void run_openssh(std::vector<std::string> argv) {
  if (rig::run(argv) != 0) throw std::runtime_error(argv[0] + " failed");
}

/// 256 MiB to and from one host over SFTP and SCP, next to OpenSSH's sftp
/// and scp (legacy protocol, -O) on the same sshd.
void file_benchmark(const rig::Sshd& sshd) {
  const std::uint64_t size = 256ull << 20;
  rig::TempDir dir;
  auto source = dir.path() / "payload";
  {
    std::ofstream out(source, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 2654435761u >> 13);
    for (std::uint64_t i = 0; i < size >> 20; ++i) out << block;
  }
  auto remote = (dir.path() / "remote").string(), back = (dir.path() / "back").string();
  auto options = bench_options(sshd, 1);
  pssh::Client client("127.0.0.2", options);
  client.connect_auth();
  std::string target = "127.0.0.2:" + remote;
  auto opts = openssh_options(sshd);
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), opts.begin(), opts.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  auto batch = dir.path() / "batch";
  auto sftp_batch = [&](const std::string& command) {
    rig::write_file(batch, command + "\n");
    run_openssh(with({"sftp", "-b", batch.string()}, {"127.0.0.2"}));
  };
  double pssh_sftp_send = rate(size, [&] { client.copy_file(source, remote); });
  double pssh_sftp_recv = rate(size, [&] { client.copy_remote_file(remote, back); });
  double pssh_scp_send = rate(size, [&] { client.scp_send(source, remote); });
  double pssh_scp_recv = rate(size, [&] { client.scp_recv(remote, back); });
  double ssh_sftp_send = rate(size, [&] { sftp_batch("put " + source.string() + " " + remote); });
  double ssh_sftp_recv = rate(size, [&] { sftp_batch("get " + remote + " " + back); });
  double ssh_scp_send = rate(size, [&] { run_openssh(with({"scp", "-O", "-q"}, {source.string(), target})); });
  double ssh_scp_recv = rate(size, [&] { run_openssh(with({"scp", "-O", "-q"}, {target, back})); });
  std::printf("files: 256 MiB to and from one host, MB/s (pssh / OpenSSH = ratio)\n");
  std::printf("  sftp send %7.1f / %7.1f = %.2fx   sftp recv %7.1f / %7.1f = %.2fx\n", pssh_sftp_send,
              ssh_sftp_send, pssh_sftp_send / ssh_sftp_send, pssh_sftp_recv, ssh_sftp_recv,
              pssh_sftp_recv / ssh_sftp_recv);
  std::printf("  scp  send %7.1f / %7.1f = %.2fx   scp  recv %7.1f / %7.1f = %.2fx\n", pssh_scp_send,
              ssh_scp_send, pssh_scp_send / ssh_scp_send, pssh_scp_recv, ssh_scp_recv,
              pssh_scp_recv / ssh_scp_recv);
  std::printf("  peak RSS of this process: %ld KiB\n", peak_rss_kib());
}

/// 50 hosts each stream 20 MB of output, reached directly and then through
/// one proxy session (the same sshd as bastion), next to OpenSSH, whose
/// ProxyCommand ssh -W makes one bastion connection per host.
void proxy_benchmark(const rig::Sshd& sshd) {
  const std::size_t n = 50;
  const std::string command = "head -c 20000000 /dev/zero";
  auto run = [&](const pssh::ClientOptions& options) {
    double cpu = cpu_seconds(RUSAGE_SELF);
    auto start = Clock::now();
    pssh::ParallelClient client(rig::loopback_hosts(n), options);
    auto output = client.run_command(command);
    client.join(output, {.join_timeout = {}, .consume_output = true});
    check(output);
    return Figures{seconds(start), (cpu_seconds(RUSAGE_SELF) - cpu) * 1000 / static_cast<double>(n)};
  };
  auto options = bench_options(sshd, n);
  Figures direct = run(options);
  options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = sshd.port()};
  Figures tunnelled = run(options);

  auto opts = openssh_options(sshd);
  opts.pop_back();  // "-P port" is scp's spelling
  opts.pop_back();
  std::string jump = "ssh";
  for (const auto& o : opts) jump += " " + o;
  jump += " -p " + std::to_string(sshd.port()) + " -W %h:%p 127.0.0.1";
  double cpu = cpu_seconds(RUSAGE_CHILDREN);
  auto start = Clock::now();
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> argv{"sh", "-c", "exec \"$@\" > /dev/null", "sh", "ssh"};
    argv.insert(argv.end(), opts.begin(), opts.end());
    argv.insert(argv.end(), {"-p", std::to_string(sshd.port()), "-o", "ProxyCommand=" + jump,
                             rig::loopback_host(i), command});
    pids.push_back(rig::spawn(argv));
  }
  wait_all(pids, "ssh -W");
  Figures openssh{seconds(start), (cpu_seconds(RUSAGE_CHILDREN) - cpu) * 1000 / static_cast<double>(n)};

  std::printf("proxy: %zu hosts each stream 20 MB; wall, client CPU per host\n", n);
  std::printf("  pssh direct          %6.2f s %7.1f ms\n", direct.wall, direct.cpu_per_host_ms);
  std::printf("  pssh via 1 proxy     %6.2f s %7.1f ms   (%.2fx the direct CPU; 1 bastion connection)\n",
              tunnelled.wall, tunnelled.cpu_per_host_ms, tunnelled.cpu_per_host_ms / direct.cpu_per_host_ms);
  std::printf("  ssh, ProxyCommand -W %6.2f s %7.1f ms   (%zu bastion connections); pssh/ssh CPU %.2fx\n",
              openssh.wall, openssh.cpu_per_host_ms, n, tunnelled.cpu_per_host_ms / openssh.cpu_per_host_ms);
}

/// CPU seconds process `pid` has used, with its children that it reaped
/// (for sshd: every connection's processes, once they ended).
double process_cpu_seconds(pid_t pid) {
  std::string stat = rig::read_file("/proc/" + std::to_string(pid) + "/stat");
  // After "pid (comm)": state is field 3; utime, stime, cutime, cstime are 14-17.
  std::istringstream fields(stat.substr(stat.rfind(')') + 1));
  std::string skipped;
  for (int field = 3; field < 14; ++field) fields >> skipped;
  long ticks = 0, total = 0;
  for (int field = 14; field <= 17 && fields >> ticks; ++field) total += ticks;
  return static_cast<double>(total) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// Several sshds, for more hosts than one can take: one sshd listens on 16
/// sockets at most (8 ports, IPv4 and IPv6) with a backlog of 128 each, and
/// accepts on one thread. Each serves its own block of `per_sshd` hosts,
/// four 127.0.x.* groups (rig::loopback_host), and takes the first one's key.
class Fleet {
 public:
  static constexpr std::size_t per_sshd = 1000;

  explicit Fleet(std::size_t hosts) {
    for (std::size_t i = 0; i == 0 || i * per_sshd < hosts; ++i) {
      sshds_.push_back(std::make_unique<rig::Sshd>(
          rig::Sshd::Config{.listeners = 8, .extra_config = {}, .host_key = {}}));
      // Read at each login: one client key for the whole fleet.
      if (i > 0)
        std::filesystem::copy_file(first().dir() / "authorized_keys",
                                   sshds_.back()->dir() / "authorized_keys",
                                   std::filesystem::copy_options::overwrite_existing);
    }
  }

  const rig::Sshd& first() const { return *sshds_.front(); }
  std::size_t size() const { return sshds_.size(); }

  std::vector<pssh::HostConfig> spread(std::size_t count) const {
    std::vector<pssh::HostConfig> configs(count);
    for (std::size_t i = 0; i < count; ++i) {
      const rig::Sshd& sshd = *sshds_.at(i / per_sshd);
      configs[i].port = sshd.port(i % 8);
    }
    return configs;
  }

  /// The sshds' CPU so far, their connections' included: waits until every
  /// connection's processes have ended and been reaped (cutime, cstime).
  double cpu_seconds() const {
    double total = 0;
    for (const auto& sshd : sshds_) {
      auto deadline = Clock::now() + 60s;
      while (!rig::child_pids(sshd->pid()).empty() && Clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
      total += process_cpu_seconds(sshd->pid());
    }
    return total;
  }

 private:
  std::vector<std::unique_ptr<rig::Sshd>> sshds_;
};

/// `pssh-bench fleet [pool=P] N...`: N hosts run `true`, pool_size N (or P
/// if smaller), next to the floor sshd's CPU sets on these cores; this
/// process's threads and descriptors before the client and after it is gone.
void fleet_benchmark(const std::vector<std::size_t>& sizes, std::size_t pool_cap) {
  std::size_t most = 0;
  for (std::size_t n : sizes) most = std::max(most, n);
  Fleet fleet(most);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  std::printf("fleet: hosts run `true`; %zu sshds of <= %zu hosts, 8 ports each; %u cores; "
              "RLIMIT_NOFILE %llu/%llu; MemAvailable %ld MiB\n",
              fleet.size(), Fleet::per_sshd, cores, static_cast<unsigned long long>(files.rlim_cur),
              static_cast<unsigned long long>(files.rlim_max),
              proc_kib("/proc/meminfo", "MemAvailable") / 1024);
  std::printf("%5s %5s | %8s %8s | %9s | %9s | %8s %8s | %8s | %s\n", "hosts", "pool", "wall",
              "floor", "cpu/host", "RSS/host", "threads", "fds", "mem/host", "threads/fds before -> after");
  for (std::size_t n : sizes) {
    auto options = bench_options(fleet.first(), std::min(n, pool_cap));
    // Every login here shares this machine's cores with every other: with
    // thousands at once, one handshake takes about as long as all of them.
    options.timeout = 30min;
    pssh_run(rig::loopback_hosts(10), options, fleet.spread(10), nullptr);  // warm: keys, libraries
    int threads_before = thread_count(), fds_before = fd_count();
    long available_before = proc_kib("/proc/meminfo", "MemAvailable");
    double sshd_cpu = fleet.cpu_seconds();
    Connected connected;
    Figures ours = pssh_run(rig::loopback_hosts(n), options, fleet.spread(n), &connected);
    double floor = (fleet.cpu_seconds() - sshd_cpu) / cores;
    std::printf("%5zu %5zu | %6.2f s %6.2f s | %6.2f ms | %5ld KiB | %8d %8d | %4ld KiB | %d/%d -> %d/%d\n",
                n, options.pool_size, ours.wall, floor, ours.cpu_per_host_ms, connected.rss_per_host_kib,
                connected.threads, connected.fds,
                (available_before - connected.available_kib) / static_cast<long>(n), threads_before,
                fds_before, thread_count(), fd_count());
    std::fflush(stdout);
  }
}

void print_row(std::size_t n, const Figures& ours, const Figures& ssh, const Figures& bare,
               const Figures& bare_threads, long rss_per_host) {
  std::printf("%5zu  %7.2f s %7.2f ms | %7.2f s %7.2f ms | %7.2f ms %7.2f ms | %6ld KiB | %5.2fx %5.2fx %5.2fx %5.2fx\n",
              n, ours.wall, ours.cpu_per_host_ms, ssh.wall, ssh.cpu_per_host_ms,
              bare.cpu_per_host_ms, bare_threads.cpu_per_host_ms, rss_per_host,
              ours.cpu_per_host_ms / bare.cpu_per_host_ms,
              ours.cpu_per_host_ms / bare_threads.cpu_per_host_ms,
              ours.cpu_per_host_ms / ssh.cpu_per_host_ms, ours.wall / ssh.wall);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes{10, 100, 500};
  bool files = argc > 1 && std::string(argv[1]) == "files";
  bool proxy = argc > 1 && std::string(argv[1]) == "proxy";
  bool fleet = argc > 1 && std::string(argv[1]) == "fleet";
  std::size_t pool_cap = SIZE_MAX;
  if (argc > 1 && !files && !proxy) {
    sizes.clear();
    for (int i = fleet ? 2 : 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("pool=", 0) == 0) pool_cap = std::strtoul(arg.c_str() + 5, nullptr, 10);
      else sizes.push_back(std::strtoul(arg.c_str(), nullptr, 10));
    }
  }
  rig::TempDir home;
  ::setenv("HOME", home.path().c_str(), 1);
  ::unsetenv("SSH_AUTH_SOCK");
  if (fleet) {
    if (sizes.empty()) sizes = {10, 100, 500, 2000, 5000};
    fleet_benchmark(sizes, pool_cap);
    return 0;
  }
  rig::Sshd sshd({.listeners = 8, .extra_config = {}, .host_key = {}});
  if (files) {
    file_benchmark(sshd);
    return 0;
  }
  if (proxy) {
    proxy_benchmark(sshd);
    return 0;
  }
  std::printf("pssh engine benchmark: %u cores, libssh %s, kex %s, hosts run `true`\n",
              std::thread::hardware_concurrency(), ssh_version(0), kex);
  std::printf("%5s  %-20s | %-20s | %-18s | %-10s | %s\n", "hosts", "pssh wall, cpu/host",
              "ssh wall, cpu/host", "bare: loop, threads", "pssh RSS/host",
              "cpu/loop cpu/threads cpu/ssh wall/ssh");
  for (std::size_t n : sizes) {
    pssh_run(sshd, std::min<std::size_t>(n, 10), nullptr);  // warm: keys, libraries
    long rss_per_host = 0;
    Figures ours = pssh_run(sshd, n, &rss_per_host);
    Figures ssh = ssh_run(sshd, n);
    Figures bare = bare_libssh_run(sshd, std::min<std::size_t>(n, 100), false);
    Figures bare_threads = bare_libssh_run(sshd, n, true);
    print_row(n, ours, ssh, bare, bare_threads, rss_per_host);
  }

  const std::size_t sleepers = sizes.back();
  {
    pssh::ParallelClient client(rig::loopback_hosts(sleepers), bench_options(sshd, sleepers),
                                sshd.spread(sleepers));
    client.connect_auth();
    auto output = client.run_command("sleep 10");
    double cpu = cpu_seconds(RUSAGE_SELF);
    auto start = Clock::now();
    client.join(output);
    check(output);
    std::printf("idle: %zu hosts running `sleep 10`: %.3f s CPU over %.1f s of waiting (%.2f%% of a core)\n",
                sleepers, cpu_seconds(RUSAGE_SELF) - cpu, seconds(start),
                100 * (cpu_seconds(RUSAGE_SELF) - cpu) / seconds(start));
  }
  {
    const std::size_t far = 200;
    DelayProxy proxy(sshd.port(), 25ms);
    auto options = bench_options(sshd, far);
    options.port = proxy.port();
    double cpu = cpu_seconds(RUSAGE_SELF);
    auto start = Clock::now();
    pssh::ParallelClient client(rig::loopback_hosts(far), options);
    auto output = client.run_command("true");
    client.join(output);
    check(output);
    double wall = seconds(start);
    double ours = cpu_seconds(RUSAGE_SELF) - cpu;
    auto near = pssh_run(sshd, far, nullptr);
    std::printf("+50 ms RTT: %zu hosts in %.2f s (%.2f ms CPU/host); without the delay %.2f s\n",
                far, wall, ours * 1000 / static_cast<double>(far), near.wall);
  }
  return 0;
}
