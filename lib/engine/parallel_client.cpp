// ParallelClient: one task per host on the worker pool, a HostState per host
// and run, the watchdog for every deadline, join over the hosts' completion.
#include "base/descriptors.hpp"
#include "base/watchdog.hpp"
#include "text/text.hpp"
#include "config/command_text.hpp"
#include "config/settings.hpp"
#include "config/ssh_config.hpp"
#include "ssh/keys.hpp"
#include "ssh/proxy_hub.hpp"
#include "ssh/session.hpp"
#include "files/scp.hpp"
#include "files/sftp.hpp"
#include "engine/command_pump.hpp"
#include "engine/host_state.hpp"
#include "engine/pool.hpp"

#include <pssh/client.hpp>

#include <algorithm>
#include <filesystem>

namespace pssh {

namespace {

using detail::Clock;
using detail::StopReason;

/// A host of the client and its connection, kept between runs.
struct HostSlot {
  HostSlot(detail::HostSettings s, std::shared_ptr<detail::ProxyHub> h, HostConfig c)
      : settings(std::move(s)), hub(std::move(h)), config(std::move(c)) {}
  detail::HostSettings settings;
  const std::shared_ptr<detail::ProxyHub> hub;  // the tunnel the host is reached through
  const HostConfig config;  // as given: set_hosts keeps the slot only if it is unchanged
  std::mutex busy;             // one piece of work at a time on the connection
  std::mutex session_mutex;    // guards `session` against cancel()
  std::shared_ptr<detail::Session> session;

  /// The run holding `busy` keeps all its output while another waits for
  /// the connection: nobody may read it before that run ends (a caller that
  /// joins only the second), and a cap would then stop both for ever.
  void hold(HostState& state) {
    std::lock_guard lock(holder_mutex);
    holder = state.weak_from_this();
    if (waiting > 0) state.keep_all();
  }
  void wait_behind_holder() {
    std::shared_ptr<HostState> current;
    {
      std::lock_guard lock(holder_mutex);
      ++waiting;
      current = holder.lock();
    }
    if (current) current->keep_all();
  }
  void done_waiting() {
    std::lock_guard lock(holder_mutex);
    --waiting;
  }

 private:
  std::mutex holder_mutex;
  std::weak_ptr<HostState> holder;
  int waiting = 0;  // runs waiting for `busy`
};

/// What a host's task does once its session is open; empty: only connect.
using Job = std::function<void(detail::Session&, HostState&)>;

enum class Direction { upload, download };

/// sftp_send, sftp_recv, scp_send or scp_recv.
using CopyFunction = void (*)(detail::Session&, detail::TransferContext&, const std::string& from,
                              const std::string& to, const detail::CopyMode& mode);

/// A host's run as its file transfer sees it.
class HostTransfer final : public detail::TransferContext {
 public:
  explicit HostTransfer(const HostState& state) : state_(state) {}
  const std::string& host() const override { return state_.host; }
  void progress(const std::string& path, std::uint64_t done, std::uint64_t total) const override {
    state_.progress(path, done, total);
  }
  void throw_if_cancelled(const std::string& what) const override { state_.throw_if_cancelled(what); }

 private:
  const HostState& state_;
};

/// The host list and its slots, replaced whole by set_hosts(): every
/// operation works on the table it took at its start.
struct HostTable {
  std::vector<std::string> names;
  std::vector<std::shared_ptr<HostSlot>> slots;
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
  std::mutex set_hosts_mutex;  // one set_hosts() at a time; guards `proxies`
  std::map<std::string, std::shared_ptr<detail::ProxyHub>> proxies;  // by hop chain

  mutable std::mutex mutex;  // guards what follows
  std::shared_ptr<const HostTable> table = std::make_shared<HostTable>();
  // cancel() stops every run begun under this source, then puts a new one
  // in its place: the runs an operation starts follow the source of its
  // start, so a cancel that overtakes an operation still handing out its
  // hosts stops the rest too.
  std::stop_source cancel_source;
  Output last_output;

  Impl(std::vector<std::string> host_list, ClientOptions opts, std::vector<HostConfig> config)
      : options(std::move(opts)), pool(options.pool_size) {
    ssh_config = detail::SshConfigFile(options.ssh_config, options.system_ssh_config);
    set_hosts(std::move(host_list), std::move(config));
  }

  ~Impl() {
    cancel();
    pool.wait();
  }

  std::shared_ptr<const HostTable> hosts() const {
    std::lock_guard lock(mutex);
    return table;
  }

  void set_hosts(std::vector<std::string> host_list, std::vector<HostConfig> config) {
    if (!config.empty() && config.size() != host_list.size()) {
      throw HostArgumentError("", "host_config has " + std::to_string(config.size()) +
                                      " entries for " + std::to_string(host_list.size()) +
                                      " hosts; give exactly one per host");
    }
    std::lock_guard set_hosts_lock(set_hosts_mutex);
    auto current = hosts();
    // The current hosts' descriptors are open already: only added ones count.
    if (host_list.size() > current->names.size())
      detail::reserve_descriptors(host_list.size() - current->names.size());
    auto next = std::make_shared<HostTable>();
    for (std::size_t i = 0; i < host_list.size(); ++i) {
      if (host_list[i].empty()) {
        throw HostArgumentError("", "host list entry " + std::to_string(i) +
                                        " is empty; give a host name or address");
      }
      HostConfig host_config = config.empty() ? HostConfig{} : config[i];
      if (i < current->names.size() && current->names[i] == host_list[i] &&
          current->slots[i]->config == host_config) {
        next->slots.push_back(current->slots[i]);
        continue;
      }
      detail::HostSettings settings;
      std::shared_ptr<detail::ProxyHub> hub;
      try {
        settings = detail::resolve_settings(host_list[i], i, options, host_config, ssh_config, &keys);
        hub = proxy_hub_for(settings);
      } catch (const HostArgumentError& e) {
        // A config this host cannot be reached with fails this host alone.
        settings.host = settings.alias = host_list[i];
        if (host_config.alias) settings.alias = *host_config.alias;
        settings.index = i;
        settings.config_error = e.what();
      }
      next->slots.push_back(
          std::make_shared<HostSlot>(std::move(settings), std::move(hub), std::move(host_config)));
    }
    next->names = std::move(host_list);
    std::lock_guard lock(mutex);
    table = std::move(next);
  }

  /// The tunnel hub for the host's proxy (or ProxyJump chain, hop by hop):
  /// hosts behind the same proxy share one hub and one proxy connection.
  std::shared_ptr<detail::ProxyHub> proxy_hub_for(const detail::HostSettings& host) {
    ClientOptions hop_options = options;
    hop_options.proxy.reset();
    hop_options.proxy_command.reset();  // the targets' transport, not the hops'
    std::vector<std::pair<std::string, HostConfig>> hops;  // each hop's host and credentials
    if (host.proxy) {
      const ProxyConfig& p = *host.proxy;
      hop_options.port.reset();  // the targets' port is not the bastion's
      hops.push_back({p.host, {.user = p.user, .password = p.password, .port = p.port, .pkey = p.pkey}});
    } else if (host.proxy_jump) {
      // As ssh(1) runs a jump: the hop's own config entry (or the defaults)
      // fills what the hop leaves out, not the targets' user and port.
      hop_options.user.reset();
      hop_options.port.reset();
      for (auto& hop : detail::parse_proxy_jump(*host.proxy_jump, host.host, ssh_config.path()))
        hops.push_back({hop.host, {.user = hop.user, .port = hop.port}});
    }
    std::shared_ptr<detail::ProxyHub> via;
    std::string chain;
    for (const auto& [hop_host, credentials] : hops) {
      auto settings = detail::resolve_settings(hop_host, 0, hop_options, credentials,
                                               ssh_config, &keys);
      settings.proxy_jump.reset();  // a hop's own ProxyJump is not followed
      chain += (chain.empty() ? "" : " > ") + settings.destination();
      auto& hub = proxies[chain];
      if (!hub) hub = std::make_shared<detail::ProxyHub>(std::move(settings), via, watchdog);
      via = hub;
    }
    return via;
  }

  detail::RunSettings run_settings(const RunOptions& run) const {
    return {.pty = run.use_pty,
            .read_timeout = run.read_timeout,
            .max_buffered = options.max_buffered_output,
            .encoding = run.encoding,
            .on_event = options.on_event,
            .line_events = options.line_events,
            .on_output = run.on_output};
  }

  /// Per-host arguments (host_args, copy_args) must cover every host.
  static void check_per_host(const HostTable& hosts, const char* name, std::size_t given) {
    if (given == 0 || given >= hosts.names.size()) return;
    const std::string& host = hosts.names[given];
    throw HostArgumentError(host, std::string(name) + " has " + std::to_string(given) +
                                      " entries for " + std::to_string(hosts.names.size()) +
                                      " hosts; " + host + " (index " + std::to_string(given) +
                                      ") has none. Give one entry per host");
  }

  static std::vector<std::string> commands_for(const HostTable& hosts, const std::string& command,
                                               const RunOptions& run,
                                               const detail::SudoMarkers& markers) {
    check_per_host(hosts, "host_args", run.host_args.size());
    // Made whether it is used or not: an unknown encoding is the caller's
    // ConfigError before any host starts.
    std::unique_ptr<detail::Recoder> recoder;
    if (!detail::is_utf8(run.encoding)) recoder = std::make_unique<detail::Recoder>("UTF-8", run.encoding);
    if (!run.encode_command) recoder.reset();
    std::vector<std::string> commands;
    for (std::size_t i = 0; i < hosts.names.size(); ++i) {
      std::string text = run.host_args.empty()
                             ? command
                             : detail::format_command(command, run.host_args[i], hosts.names[i]);
      text = detail::wrap_command(text, run, markers);
      commands.push_back(recoder ? recoder->convert(text) : text);
    }
    return commands;
  }

  static Output new_states(const HostTable& hosts, const detail::RunSettings& settings) {
    Output output;
    for (const auto& slot : hosts.slots)
      output.push_back(HostAccess::output_of(std::make_shared<HostState>(slot->settings, settings)));
    return output;
  }

  /// Starts `spec` on every host, with its command and its variables over
  /// spec.env, if given; returns once each has started, failed or waits for
  /// a worker (queued hosts start as workers free up).
  Output start_on_channels(const HostTable& hosts, const detail::RunSettings& settings,
                           const std::vector<std::string>& commands, detail::CommandSpec spec,
                           const std::vector<std::map<std::string, std::string>>& host_env = {}) {
    check_per_host(hosts, "host_env", host_env.size());
    auto cancel = cancel_token();
    Output output = new_states(hosts, settings);
    const auto env = spec.env;
    for (std::size_t i = 0; i < hosts.slots.size(); ++i) {
      if (!commands.empty()) spec.command = commands[i];
      if (!host_env.empty()) {
        spec.env = env;
        for (const auto& [name, value] : host_env[i]) spec.env[name] = value;
      }
      submit(cancel, hosts.slots[i], HostAccess::state_of(output[i]),
             [spec](detail::Session& session, HostState& state) {
               run_on_channel(session, state, spec);
             });
    }
    for (const auto& h : output) HostAccess::state_of(h)->wait_dispatched();
    return output;
  }

  /// sudo -S reads the password up to a newline (the rest would be the
  /// command's input), and a PTY's line editing acts on control characters
  /// (^U erases, ^C interrupts): such a password cannot arrive as given.
  static void check_sudo_password(const std::string& password, bool pty) {
    auto unsendable = [pty](unsigned char c) { return c == '\n' || c == '\r' || (pty && (c < 0x20 || c == 0x7f)); };
    if (std::any_of(password.begin(), password.end(), unsendable)) {
      throw ConfigError("", std::string("RunOptions::sudo_password holds a newline") +
                                  (pty ? " or a control character (a PTY's line editing would change it)"
                                       : " (sudo -S would give what follows it to the command)"));
    }
  }

  Output run_command(const std::string& command, const RunOptions& run) {
    std::optional<detail::SudoSpec> sudo;
    if (run.sudo_password) check_sudo_password(*run.sudo_password, run.use_pty);
    if (run.sudo || run.user) {
      sudo = {detail::SudoMarkers::random(), run.sudo_password};
    } else if (run.sudo_password) {
      throw ConfigError(
          "", "RunOptions::sudo_password is set but the command does not run through sudo; set sudo "
          "or user");
    }
    auto hosts_now = hosts();
    auto commands = commands_for(*hosts_now, command, run, sudo ? sudo->markers : detail::SudoMarkers{});
    Output output = start_on_channels(*hosts_now, run_settings(run), commands,
                                      {.command = {},
                                       .shell = false,
                                       .pty = run.use_pty,
                                       .timeout = run.command_timeout,
                                       .env = run.env,
                                       .sudo = std::move(sudo)},
                                      run.host_env);
    {
      std::lock_guard lock(mutex);
      last_output = output;
    }
    if (run.stop_on_errors) rethrow_first_error(output);
    return output;
  }

  std::vector<Shell> open_shell(const ShellOptions& shell) {
    Output output = start_on_channels(
        *hosts(),
        run_settings({.use_pty = shell.use_pty, .read_timeout = shell.read_timeout,
                      .encoding = shell.encoding}),
        {}, {.command = {}, .shell = true, .pty = shell.use_pty, .timeout = {}, .env = shell.env});
    if (shell.stop_on_errors && first_error(output)) {
      // The caller gets no Shell to end: the shells that did start (or wait
      // for a worker) are closed, or they would hold their hosts for ever.
      for (const HostOutput& h : output) h.close_channel();
      rethrow_first_error(output);
    }
    std::vector<Shell> shells;
    for (const HostOutput& h : output) shells.push_back(Shell(h, shell.encoding));
    return shells;
  }

  void connect_auth() {
    auto cancel = cancel_token();
    auto hosts_now = hosts();
    Output output = new_states(*hosts_now, run_settings({}));
    for (std::size_t i = 0; i < hosts_now->slots.size(); ++i)
      submit(cancel, hosts_now->slots[i], HostAccess::state_of(output[i]), {});
    join(output, {});
    rethrow_first_error(output);
  }

  /// Copies `from` to `to` on every host; `{name}` in either path takes the
  /// host's copy_args. Bad local input throws before any host is touched.
  std::vector<Transfer> copy(const std::string& from, const std::string& to,
                             const CopyOptions& options, Direction direction,
                             CopyFunction copy_one) {
    auto hosts_now = hosts();
    const HostTable& hosts = *hosts_now;
    check_per_host(hosts, "copy_args", options.copy_args.size());
    std::vector<std::pair<std::string, std::string>> paths;
    for (std::size_t i = 0; i < hosts.names.size(); ++i) {
      std::string source = from, target = to;
      if (!options.copy_args.empty()) {
        HostArgs args = options.copy_args[i];
        source = detail::format_command(from, args, hosts.names[i], detail::Fields::braces);
        target = detail::format_command(to, args, hosts.names[i], detail::Fields::braces);
      } else if (direction == Direction::download && options.suffix_separator) {
        target += *options.suffix_separator + hosts.names[i];
      }
      if (direction == Direction::upload) check_local_source(source, options.recurse);
      paths.emplace_back(std::move(source), std::move(target));
    }
    auto cancel = cancel_token();
    Output states = new_states(hosts, run_settings({}));
    std::vector<Transfer> transfers;
    for (std::size_t i = 0; i < hosts.slots.size(); ++i) {
      auto state = HostAccess::state_of(states[i]);
      transfers.push_back(Transfer(state));
      submit(cancel, hosts.slots[i], std::move(state),
             [paths = std::move(paths[i]), mode = detail::CopyMode{options.recurse, options.into_directory},
              copy_one](detail::Session& session, HostState& state) {
               HostTransfer transfer(state);
               copy_one(session, transfer, paths.first, paths.second, mode);
             });
    }
    return transfers;
  }

  static void check_local_source(const std::string& path, bool recurse) {
    std::error_code error;
    auto status = std::filesystem::status(path, error);
    if (error) throw std::system_error(error, "cannot copy " + path);
    if (std::filesystem::is_directory(status) && !recurse)
      throw ConfigError("", path + " is a directory; set recurse to copy it");
    // A pipe would block a worker for ever, a device never end.
    if (!std::filesystem::is_directory(status) && !std::filesystem::is_regular_file(status))
      throw ConfigError("", path + " is not a regular file (a pipe, socket or device); it cannot be copied");
  }

  static std::exception_ptr first_error(const Output& output) {
    for (const auto& h : output)
      if (auto error = h.exception()) return error;
    return nullptr;
  }

  static void rethrow_first_error(const Output& output) {
    if (auto error = first_error(output)) std::rethrow_exception(error);
  }

  /// What an operation's runs follow: the cancel() to come.
  std::stop_token cancel_token() const {
    std::lock_guard lock(mutex);
    return cancel_source.get_token();
  }

  /// Queues one host's work, stopped by a cancel of `cancel` (already
  /// requested: stopped before it starts).
  void submit(std::stop_token cancel, std::shared_ptr<HostSlot> slot,
              std::shared_ptr<HostState> state, Job job) {
    state->follow(std::move(cancel));
    HostState* queued = state.get();
    bool waits = pool.submit([this, slot = std::move(slot), state = std::move(state),
                              job = std::move(job)] { work(*slot, *state, job); });
    // The task holds the state until it has run, so `queued` is alive here.
    if (waits) queued->set_waiting();
  }

  /// One host's task. Catches everything: oneTBB would cancel the other
  /// hosts' tasks if one threw.
  void work(HostSlot& slot, HostState& state, const Job& job) noexcept {
    try {
      state.set_working();
      std::unique_lock busy(slot.busy, std::try_to_lock);
      if (!busy) {
        state.set_waiting();  // behind this connection's previous work
        slot.wait_behind_holder();
        busy.lock();
        slot.done_waiting();
        state.set_working();
      }
      slot.hold(state);
      try {
        work_on_session(slot, state, job);
        drop_broken_session(slot);  // cut after the grace of a close_channel()
      } catch (...) {
        state.fail(std::current_exception());
        drop_broken_session(slot);
      }
    } catch (...) {
      state.fail(std::current_exception());
    }
    state.finish();
  }

  /// Connects if needed and runs the job, with the run's stop hook in place:
  /// a stop request (cancel, timeout, close) cuts the connection, at once
  /// while connecting, after the grace period once the command runs (the
  /// pump sends TERM meanwhile). A kept connection the server has given up
  /// (it hung up while idle, or refuses the job's first channel) is replaced
  /// by a new one, once: nothing had run on the host.
  void work_on_session(HostSlot& slot, HostState& state, const Job& job) {
    for (bool retried = false;; retried = true) {
      std::shared_ptr<detail::Session> session = session_for(slot);
      bool kept = session->is_open();
      session->serve(&state.stop_source());
      struct ServeNone {
        detail::Session& session;
        ~ServeNone() { session.serve(nullptr); }
      } serve_none{*session};
      detail::Watchdog::Ticket cut;  // outlives the callback that arms it
      std::stop_callback on_stop(state.stop_source().token(), [&] {
        StopReason reason = state.stop_reason();
        auto grace = state.started() ? detail::stop_grace : duration::zero();
        cut = watchdog.arm(Clock::now() + grace, [session, hub = slot.hub, reason] {
          session->cut();
          // The proxy connection being made serves other hosts too: only
          // cancel(), which stops them all, cuts it.
          if (hub && reason == StopReason::cancelled) hub->cancel_connect();
        });
      });
      switch (state.stop_reason()) {
        case StopReason::none:
          break;
        case StopReason::closed_by_caller:
          throw Cancelled(state.host, "work on " + state.host +
                                          " was stopped by close_channel() before it started");
        default:
          throw Cancelled(state.host, "work on " + state.host + " was cancelled before it started");
      }
      if (!kept) session->open([&state](Event::Kind kind) { state.emit(kind); });
      if (!job) return;
      session->begin_work();
      try {
        job(*session, state);
        return;
      } catch (const Error&) {
        if (!kept || retried || !session->refused_first_channel()) throw;
        std::lock_guard lock(slot.session_mutex);
        if (slot.session == session) slot.session.reset();
      }
    }
  }

  /// The slot's connection if it is still usable, else a new (unopened) one.
  /// Only the worker holding slot.busy uses or replaces the connection.
  std::shared_ptr<detail::Session> session_for(HostSlot& slot) {
    std::shared_ptr<detail::Session> session;
    {
      std::lock_guard lock(slot.session_mutex);
      session = slot.session;
    }
    if (session && session->still_open() &&
        !(session->one_channel_only() && session->channels_opened() > 0))
      return session;
    auto fresh = std::make_shared<detail::Session>(slot.settings, slot.hub, watchdog);
    {
      // The old connection closes after the lock is released: closing may
      // wait (a disconnect message, a ProxyCommand's group to end).
      std::lock_guard lock(slot.session_mutex);
      slot.session.swap(session);
      slot.session = fresh;
    }
    return fresh;
  }

  static void drop_broken_session(HostSlot& slot) {
    std::shared_ptr<detail::Session> broken;
    std::lock_guard lock(slot.session_mutex);
    if (slot.session && !slot.session->is_open()) broken = std::move(slot.session);
  }

  void join(const Output& output, const JoinOptions& join_options) {
    std::optional<Clock::time_point> deadline;
    if (join_options.join_timeout) deadline = Clock::now() + *join_options.join_timeout;
    if (join_options.consume_output)
      for (const auto& h : output) HostAccess::state_of(h)->discard_output(true);
    // Every host keeps its whole output from now on, not only the one waited
    // for: a capped host later in the list would otherwise stop meanwhile.
    for (const auto& h : output) HostAccess::state_of(h)->keep_all();
    Output finished, unfinished;
    for (const auto& h : output) {
      if (HostAccess::state_of(h)->wait_finished_until(deadline)) finished.push_back(h);
      else unfinished.push_back(h);
    }
    if (!unfinished.empty()) {
      std::string message = "join timed out after " + detail::duration_text(*join_options.join_timeout) +
                            ": " + std::to_string(unfinished.size()) + " of " +
                            std::to_string(output.size()) + " hosts still running (" +
                            host_list_text(unfinished) + "); join again to wait for them";
      throw JoinTimeout(message, std::move(finished), std::move(unfinished));
    }
  }

  void cancel() {
    std::stop_source cancelled;
    {
      std::lock_guard lock(mutex);
      cancelled = std::exchange(cancel_source, std::stop_source());
    }
    cancelled.request_stop();  // outside the lock: it runs every run's stop
  }

  void disconnect() {
    cancel();
    pool.wait();
    for (const auto& slot : hosts()->slots) {
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

void ParallelClient::join_output(const Output& output, const JoinOptions& options) {
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
  if (options.into_directory)
    throw ConfigError("", "into_directory is an SFTP copy's (copy_file): scp_send names its target exactly");
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
    if (HostAccess::state_of(shell.output())) output.push_back(shell.output());  // skip moved-from
  }
  impl_->join(output, {.join_timeout = timeout});
}

void ParallelClient::set_hosts(std::vector<std::string> hosts, std::vector<HostConfig> host_config) {
  impl_->set_hosts(std::move(hosts), std::move(host_config));
}

std::vector<std::string> ParallelClient::hosts() const { return impl_->hosts()->names; }
void ParallelClient::cancel() { impl_->cancel(); }
void ParallelClient::disconnect() { impl_->disconnect(); }

}  // namespace pssh
