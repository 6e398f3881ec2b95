// ParallelClient: one task per host on the worker pool, a HostState per host
// and run, the watchdog for every deadline, join over the hosts' completion.
#include "channel.hpp"
#include "command_text.hpp"
#include "host_state.hpp"
#include "pool.hpp"
#include "scp.hpp"
#include "session.hpp"
#include "settings.hpp"
#include "sftp.hpp"
#include "ssh_config.hpp"
#include "tunnel.hpp"
#include "text.hpp"
#include "watchdog.hpp"

#include <pssh/client.hpp>

#include <algorithm>
#include <filesystem>

namespace pssh {

namespace {

using detail::Clock;
using detail::HostState;
using detail::StopReason;

/// A host of the client and its connection, kept between runs.
struct HostSlot {
  explicit HostSlot(detail::HostSettings s) : settings(std::move(s)) {}
  detail::HostSettings settings;
  std::mutex busy;             // one piece of work at a time on the connection
  std::mutex session_mutex;    // guards `session` against cancel()
  std::shared_ptr<detail::Session> session;
};

/// What a host's task does once its session is open; empty: only connect.
using Job = std::function<void(detail::Session&, HostState&)>;

enum class Direction { upload, download };

/// sftp_send, sftp_recv, scp_send or scp_recv.
using CopyFunction = void (*)(detail::Session&, HostState&, const std::string& from,
                              const std::string& to, bool recurse);

struct ActiveWork {
  std::shared_ptr<HostState> state;
  std::shared_ptr<HostSlot> slot;
};

std::string host_list_text(const Output& outputs) {
  std::string text;
  for (std::size_t i = 0; i < outputs.size() && i < 5; ++i)
    text += (i ? ", " : "") + outputs[i].host();
  if (outputs.size() > 5) text += ", ...";
  return text;
}

}  // namespace

struct ParallelClient::Impl {
  ClientOptions options;
  detail::Watchdog watchdog;
  detail::WorkerPool pool;
  detail::KeyCache keys;
  detail::SshConfigFile ssh_config;
  std::map<std::string, std::shared_ptr<detail::ProxyHub>> proxies;  // by hop chain
  std::vector<std::string> hosts;
  std::vector<std::shared_ptr<HostSlot>> slots;

  mutable std::mutex mutex;  // guards what follows
  std::vector<ActiveWork> active;
  Output last_output;

  Impl(std::vector<std::string> host_list, ClientOptions opts, std::vector<HostConfig> config)
      : options(std::move(opts)), pool(options.pool_size) {
    if (options.ssh_config) {
      ssh_config = detail::SshConfigFile(detail::expand_home(*options.ssh_config));
    }
    set_hosts(std::move(host_list), std::move(config));
  }

  ~Impl() {
    cancel();
    pool.wait();
  }

  void set_hosts(std::vector<std::string> host_list, std::vector<HostConfig> config) {
    if (!config.empty() && config.size() != host_list.size()) {
      throw HostArgumentError("", "host_config has " + std::to_string(config.size()) +
                                      " entries for " + std::to_string(host_list.size()) +
                                      " hosts; give exactly one per host");
    }
    std::vector<std::shared_ptr<HostSlot>> next;
    for (std::size_t i = 0; i < host_list.size(); ++i) {
      if (host_list[i].empty()) {
        throw HostArgumentError("", "host list entry " + std::to_string(i) +
                                        " is empty; give a host name or address");
      }
      if (i < hosts.size() && hosts[i] == host_list[i]) {
        next.push_back(slots[i]);
        continue;
      }
      auto settings = detail::resolve_settings(host_list[i], i, options,
                                               config.empty() ? HostConfig{} : config[i],
                                               ssh_config, keys);
      settings.proxy_hub = proxy_hub_for(settings);
      next.push_back(std::make_shared<HostSlot>(std::move(settings)));
    }
    std::lock_guard lock(mutex);
    hosts = std::move(host_list);
    slots = std::move(next);
  }

  /// The tunnel hub for the host's proxy (or ProxyJump chain, hop by hop):
  /// hosts behind the same proxy share one hub and one proxy connection.
  std::shared_ptr<detail::ProxyHub> proxy_hub_for(const detail::HostSettings& host) {
    ClientOptions hop_options = options;
    hop_options.proxy.reset();
    std::vector<std::pair<std::string, HostConfig>> hops;  // each hop's host and credentials
    if (host.proxy) {
      const ProxyConfig& p = *host.proxy;
      hops.push_back({p.host, {.user = p.user, .password = p.password, .port = p.port, .pkey = p.pkey}});
    } else if (host.proxy_jump) {
      // As ssh(1) runs a jump: the hop's own config entry (or the defaults)
      // fills what the hop leaves out, not the targets' user and port.
      hop_options.user.clear();
      hop_options.port = ClientOptions{}.port;
      for (auto& hop : detail::parse_proxy_jump(*host.proxy_jump, host.host, ssh_config.path()))
        hops.push_back({hop.host, {.user = hop.user, .port = hop.port}});
    }
    std::shared_ptr<detail::ProxyHub> via;
    std::string chain;
    for (const auto& [hop_host, credentials] : hops) {
      auto settings = detail::resolve_settings(hop_host, 0, hop_options, credentials,
                                               ssh_config, keys);
      settings.proxy_jump.reset();  // a hop's own ProxyJump is not followed
      settings.proxy_hub = via;
      chain += (chain.empty() ? "" : " > ") + settings.destination();
      auto& hub = proxies[chain];
      if (!hub) hub = std::make_shared<detail::ProxyHub>(std::move(settings), watchdog);
      via = hub;
    }
    return via;
  }

  detail::RunSettings run_settings(const RunOptions& run) const {
    return {.pty = run.use_pty,
            .read_timeout = run.read_timeout,
            .max_buffered = options.max_buffered_output,
            .encoding = run.encoding,
            .on_event = options.on_event};
  }

  /// Per-host arguments (host_args, copy_args) must cover every host.
  void check_per_host(const char* name, std::size_t given) const {
    if (given == 0 || given >= hosts.size()) return;
    const std::string& host = hosts[given];
    throw HostArgumentError(host, std::string(name) + " has " + std::to_string(given) +
                                      " entries for " + std::to_string(hosts.size()) + " hosts; " +
                                      host + " (index " + std::to_string(given) +
                                      ") has none. Give one entry per host");
  }

  std::vector<std::string> commands_for(const std::string& command, const RunOptions& run) const {
    check_per_host("host_args", run.host_args.size());
    std::unique_ptr<detail::Recoder> recoder;
    if (!detail::is_utf8(run.encoding)) recoder = std::make_unique<detail::Recoder>("UTF-8", run.encoding);
    std::vector<std::string> commands;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      std::string text = run.host_args.empty()
                             ? command
                             : detail::format_command(command, run.host_args[i], hosts[i]);
      text = detail::wrap_command(text, run);
      commands.push_back(recoder ? recoder->convert(text) : text);
    }
    return commands;
  }

  Output new_states(const detail::RunSettings& settings) const {
    Output output;
    for (const auto& slot : slots)
      output.emplace_back(std::make_shared<HostState>(slot->settings, settings));
    return output;
  }

  Output run_command(const std::string& command, const RunOptions& run) {
    auto commands = commands_for(command, run);
    Output output = new_states(run_settings(run));
    {
      std::lock_guard lock(mutex);
      last_output = output;
    }
    for (std::size_t i = 0; i < slots.size(); ++i) {
      submit(slots[i], detail::state_of(output[i]),
             [spec = detail::CommandSpec{.command = commands[i], .shell = false, .pty = run.use_pty, .timeout = run.timeout}](
                 detail::Session& session, HostState& state) { run_on_channel(session, state, spec); });
    }
    for (const auto& h : output) detail::state_of(h)->wait_started();
    if (run.stop_on_errors) rethrow_first_error(output);
    return output;
  }

  std::vector<Shell> open_shell(const ShellOptions& shell) {
    Output output = new_states(run_settings(
        {.use_pty = shell.use_pty, .read_timeout = shell.read_timeout, .encoding = shell.encoding}));
    std::vector<Shell> shells;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      submit(slots[i], detail::state_of(output[i]),
             [spec = detail::CommandSpec{.command = {}, .shell = true, .pty = shell.use_pty, .timeout = {}}](
                 detail::Session& session, HostState& state) { run_on_channel(session, state, spec); });
      shells.emplace_back(output[i], shell.encoding);
    }
    for (const auto& h : output) detail::state_of(h)->wait_started();
    if (shell.stop_on_errors) rethrow_first_error(output);
    return shells;
  }

  void connect_auth() {
    Output output = new_states(run_settings({}));
    for (std::size_t i = 0; i < slots.size(); ++i) submit(slots[i], detail::state_of(output[i]), {});
    join(output, {});
    rethrow_first_error(output);
  }

  /// Copies `from` to `to` on every host; `{name}` in either path takes the
  /// host's copy_args. Bad local input throws before any host is touched.
  std::vector<Transfer> copy(const std::string& from, const std::string& to,
                             const CopyOptions& options, Direction direction,
                             CopyFunction copy_one) {
    check_per_host("copy_args", options.copy_args.size());
    std::vector<std::pair<std::string, std::string>> paths;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      std::string source = from, target = to;
      if (!options.copy_args.empty()) {
        HostArgs args = options.copy_args[i];
        source = detail::format_command(from, args, hosts[i]);
        target = detail::format_command(to, args, hosts[i]);
      } else if (direction == Direction::download && options.suffix_separator) {
        target += *options.suffix_separator + hosts[i];
      }
      if (direction == Direction::upload) check_local_source(source, options.recurse);
      paths.emplace_back(std::move(source), std::move(target));
    }
    Output states = new_states(run_settings({}));
    std::vector<Transfer> transfers;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      auto state = detail::state_of(states[i]);
      transfers.emplace_back(state);
      submit(slots[i], std::move(state),
             [paths = std::move(paths[i]), recurse = options.recurse, copy_one](
                 detail::Session& session, HostState& state) {
               copy_one(session, state, paths.first, paths.second, recurse);
             });
    }
    return transfers;
  }

  static void check_local_source(const std::string& path, bool recurse) {
    std::error_code error;
    auto status = std::filesystem::status(path, error);
    if (error) throw std::system_error(error, "cannot copy " + path);
    if (std::filesystem::is_directory(status) && !recurse)
      throw std::invalid_argument(path + " is a directory; set recurse to copy it");
  }

  static void rethrow_first_error(const Output& output) {
    for (const auto& h : output)
      if (auto error = h.exception()) std::rethrow_exception(error);
  }

  void submit(std::shared_ptr<HostSlot> slot, std::shared_ptr<HostState> state, Job job) {
    {
      std::lock_guard lock(mutex);
      active.push_back({state, slot});
    }
    pool.submit([this, slot = std::move(slot), state = std::move(state), job = std::move(job)] {
      work(*slot, *state, job);
      std::lock_guard lock(mutex);
      std::erase_if(active, [&](const ActiveWork& w) { return w.state == state; });
    });
  }

  /// One host's task. Catches everything: oneTBB would cancel the other
  /// hosts' tasks if one threw.
  void work(HostSlot& slot, HostState& state, const Job& job) noexcept {
    try {
      std::lock_guard busy(slot.busy);
      try {
        if (state.stop_reason() == StopReason::cancelled)
          throw Cancelled(state.host, "work on " + state.host + " was cancelled before it started");
        detail::Session& session = open_session(slot, state);
        if (job) job(session, state);
      } catch (...) {
        state.fail(std::current_exception());
        drop_broken_session(slot);
      }
    } catch (...) {
      state.fail(std::current_exception());
    }
    state.finish();
  }

  detail::Session& open_session(HostSlot& slot, HostState& state) {
    std::shared_ptr<detail::Session> session;
    {
      std::lock_guard lock(slot.session_mutex);
      if (!slot.session || !slot.session->is_open())
        slot.session = std::make_shared<detail::Session>(slot.settings, watchdog);
      session = slot.session;
    }
    if (!session->is_open()) session->open([&state](Event::Kind kind) { state.emit(kind); });
    return *session;
  }

  static void drop_broken_session(HostSlot& slot) {
    std::shared_ptr<detail::Session> broken;
    std::lock_guard lock(slot.session_mutex);
    if (slot.session && !slot.session->is_open()) broken = std::move(slot.session);
  }

  void join(const Output& output, const JoinOptions& join_options) {
    std::optional<Clock::time_point> deadline;
    if (join_options.timeout) deadline = Clock::now() + *join_options.timeout;
    if (join_options.consume_output)
      for (const auto& h : output) detail::state_of(h)->discard_output();
    Output finished, unfinished;
    for (const auto& h : output) {
      if (detail::state_of(h)->wait_finished_until(deadline)) finished.push_back(h);
      else unfinished.push_back(h);
    }
    if (!unfinished.empty()) {
      std::string message = "join timed out after " + detail::duration_text(*join_options.timeout) +
                            ": " + std::to_string(unfinished.size()) + " of " +
                            std::to_string(output.size()) + " hosts still running (" +
                            host_list_text(unfinished) + "); join again to wait for them";
      throw JoinTimeout(message, std::move(finished), std::move(unfinished));
    }
  }

  void cancel() {
    std::lock_guard lock(mutex);
    for (const ActiveWork& work : active) {
      work.state->request_stop(StopReason::cancelled);
      // A host blocked in a session step (connect, login) cannot see the
      // request: cut its connection if it has not ended after the grace time.
      std::weak_ptr<HostState> weak_state = work.state;
      std::weak_ptr<HostSlot> weak_slot = work.slot;
      watchdog.schedule(Clock::now() + detail::stop_grace, [weak_state, weak_slot] {
        auto state = weak_state.lock();
        auto slot = weak_slot.lock();
        if (!state || !slot || state->finished()) return;
        {
          std::lock_guard session_lock(slot->session_mutex);
          if (slot->session) slot->session->abort(StopReason::cancelled);
        }
        // After the abort above: a host that then takes its turn to connect
        // the proxy sees it (ProxyHub::connect).
        if (slot->settings.proxy_hub) slot->settings.proxy_hub->cancel_connect();
      });
    }
  }

  void disconnect() {
    cancel();
    pool.wait();
    for (const auto& slot : slots) {
      std::lock_guard lock(slot->session_mutex);
      slot->session.reset();
    }
  }
};

ParallelClient::ParallelClient(std::vector<std::string> hosts, ClientOptions options,
                               std::vector<HostConfig> host_config)
    : impl_(std::make_unique<Impl>(std::move(hosts), std::move(options), std::move(host_config))) {}

ParallelClient::~ParallelClient() = default;
ParallelClient::ParallelClient(ParallelClient&&) noexcept = default;
ParallelClient& ParallelClient::operator=(ParallelClient&&) noexcept = default;

Output ParallelClient::run_command(const std::string& command, const RunOptions& options) {
  return impl_->run_command(command, options);
}

void ParallelClient::join(const Output& output, const JoinOptions& options) {
  impl_->join(output, options);
}

void ParallelClient::join(const JoinOptions& options) { impl_->join(get_last_output(), options); }

bool ParallelClient::finished(const Output& output) const {
  return std::all_of(output.begin(), output.end(), [](const HostOutput& h) { return h.finished(); });
}

Output ParallelClient::get_last_output() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_output;
}

void ParallelClient::connect_auth() { impl_->connect_auth(); }

std::vector<Transfer> ParallelClient::copy_file(const std::string& local, const std::string& remote,
                                                const CopyOptions& options) {
  return impl_->copy(local, remote, options, Direction::upload, detail::sftp_send);
}

std::vector<Transfer> ParallelClient::copy_remote_file(const std::string& remote,
                                                       const std::string& local,
                                                       const CopyOptions& options) {
  return impl_->copy(remote, local, options, Direction::download, detail::sftp_recv);
}

std::vector<Transfer> ParallelClient::scp_send(const std::string& local, const std::string& remote,
                                               const CopyOptions& options) {
  return impl_->copy(local, remote, options, Direction::upload, detail::scp_send);
}

std::vector<Transfer> ParallelClient::scp_recv(const std::string& remote, const std::string& local,
                                               const CopyOptions& options) {
  return impl_->copy(remote, local, options, Direction::download, detail::scp_recv);
}

std::vector<Shell> ParallelClient::open_shell(const ShellOptions& options) {
  return impl_->open_shell(options);
}

void ParallelClient::run_shell_commands(std::vector<Shell>& shells, std::string_view commands) {
  for (Shell& shell : shells)
    if (!shell.exception()) shell.run(commands);
}

void ParallelClient::run_shell_commands(std::vector<Shell>& shells,
                                        const std::vector<std::string>& commands) {
  for (Shell& shell : shells)
    if (!shell.exception()) shell.run(commands);
}

void ParallelClient::join_shells(std::vector<Shell>& shells, std::optional<duration> timeout) {
  Output output;
  for (Shell& shell : shells) {
    shell.end_input();
    if (detail::state_of(shell.output())) output.push_back(shell.output());  // skip moved-from
  }
  impl_->join(output, {.timeout = timeout});
}

void ParallelClient::set_hosts(std::vector<std::string> hosts, std::vector<HostConfig> host_config) {
  impl_->set_hosts(std::move(hosts), std::move(host_config));
}

const std::vector<std::string>& ParallelClient::hosts() const { return impl_->hosts; }
void ParallelClient::cancel() { impl_->cancel(); }
void ParallelClient::disconnect() { impl_->disconnect(); }

}  // namespace pssh
