// sudo with a password (RunOptions::sudo_password): the prompt answered and
// taken out of the output, with and without a PTY; a refusal, and a prompt
// without a password, as SudoError without a hang; NOPASSWD untouched; the
// caller's stdin after the password; no secret in any process's arguments
// or environment, nor in any message, event or JSON. Against the suite's
// sshd, logged in as rig::SudoUser's users.
#include "common.hpp"

#include "engine/sudo_prompt.hpp"

#include <pssh/json.hpp>

#include <filesystem>
#include <mutex>

using namespace std::chrono_literals;

namespace {

struct SudoUsers {
  rig::SudoUser asks;
  rig::SudoUser nopasswd{{.nopasswd = true}};
};

/// Made on first use, removed (users and sudoers files) when the suite ends.
SudoUsers& users() {
  static SudoUsers instance;
  return instance;
}

/// The text of every event of a run, as the handler got it.
struct Events {
  std::mutex mutex;
  std::vector<std::string> texts;
  std::vector<std::string> all() {
    std::lock_guard lock(mutex);
    return texts;
  }
};

pssh::ClientOptions options_for(const rig::SudoUser& user, Events* events = nullptr) {
  pssh::ClientOptions o = user.options(server());
  if (events != nullptr) {
    o.on_event = [events](const pssh::Event& e) {
      std::lock_guard lock(events->mutex);
      events->texts.push_back(e.text);
    };
  }
  return o;
}

bool holds(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// No marker of pssh's and no password in any of `texts`.
void check_clean(const std::vector<std::string>& texts, const std::string& password) {
  for (const auto& text : texts) {
    INFO("text: " << text);
    CHECK_FALSE(holds(text, "pssh-sudo"));
    CHECK_FALSE(holds(text, password));
  }
}

/// Every line of both streams, read to their ends, and the error's message.
struct Result {
  std::vector<std::string> out, err;
  std::optional<int> exit_code;
  std::string error;
};

Result result_of(pssh::ParallelClient& client, pssh::HostOutput& h) {
  Result r{lines(h.stdout_lines()), lines(h.stderr_lines()), {}, {}};
  client.join();
  r.exit_code = h.exit_code();
  r.error = error_message(h);
  return r;
}

/// `text` fed to a watcher in two pieces cut at `cut`, then its end.
std::string through(pssh::detail::SudoPrompt& sudo, std::string_view text, std::size_t cut) {
  std::string shown(sudo.filter(text.substr(0, cut)));
  sudo.check();
  shown += sudo.filter(text.substr(cut));
  sudo.check();
  return shown + std::string(sudo.flush());
}

/// Whether any process's arguments or environment hold `secret`.
bool in_any_process(const std::string& secret) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const char* file : {"cmdline", "environ"})
      if (holds(rig::read_file(entry.path() / file), secret)) return true;
  }
  return false;
}

const pssh::detail::SudoMarkers markers = pssh::detail::SudoMarkers::random();

}  // namespace

TEST_SUITE("sudo") {
  TEST_CASE("the watcher: markers out, wherever the output is cut; text before them kept") {
    std::string text = "motd\n" + markers.prompt + markers.started + "out\n";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      pssh::detail::SudoPrompt sudo({markers, "pw"}, false, "deploy", "web1");
      CHECK(sudo.stream() == pssh::Stream::err);
      INFO("cut at " << cut);
      CHECK(through(sudo, text, cut) == "motd\nout\n");
      CHECK_FALSE(sudo.holds_stdin());
    }
    // Byte by byte, the password is due right after the prompt, once.
    pssh::detail::SudoPrompt sudo({markers, "pw"}, false, "deploy", "web1");
    std::string shown;
    for (char c : "x" + markers.prompt) shown += sudo.filter(std::string_view(&c, 1));
    CHECK(shown == "x");
    CHECK(sudo.answer() == "pw\n");
    sudo.answer_sent(1);
    CHECK(sudo.answer() == "w\n");
    sudo.answer_sent(2);
    CHECK(sudo.answer().empty());
    CHECK(sudo.holds_stdin());
    CHECK(sudo.filter(markers.started + "a") == "a");
    CHECK_FALSE(sudo.holds_stdin());
    sudo.check_ended();
  }

  TEST_CASE("the watcher: a PTY's newline after the password goes too; after the start, bytes pass as they are") {
    std::string text = "lecture\r\n" + markers.prompt + "\r\n" + markers.started + "root\r\n";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      pssh::detail::SudoPrompt sudo({markers, "pw"}, true, "deploy", "web1");
      CHECK(sudo.stream() == pssh::Stream::out);
      INFO("cut at " << cut);
      CHECK(through(sudo, text, cut) == "lecture\r\nroot\r\n");
    }
    pssh::detail::SudoPrompt sudo({markers, std::nullopt}, false, "deploy", "web1");
    CHECK(sudo.filter(markers.started) == "");
    std::string_view after = "[pssh-sudo-prompt-";  // not held back any more
    CHECK(sudo.filter(after).data() == after.data());
  }

  TEST_CASE("the watcher: look-alikes pass; an unfinished one is held back to the stream's end") {
    pssh::detail::SudoPrompt sudo({markers, "pw"}, false, "deploy", "web1");
    CHECK(sudo.filter("[pssh-sudo-prompt-0]\nabc[pssh-su") == "[pssh-sudo-prompt-0]\nabc");
    CHECK(sudo.filter("do") == "");
    CHECK(sudo.flush() == "[pssh-sudo");
    CHECK(sudo.answer().empty());
    sudo.check_ended();  // no prompt: nothing was refused
  }

  TEST_CASE("the watcher: a second prompt is a refusal, a prompt without a password an error") {
    pssh::detail::SudoPrompt sudo({markers, "pw"}, false, "deploy", "web1");
    sudo.filter(markers.prompt + "Sorry, try again.\n" + markers.prompt);
    CHECK_THROWS_WITH_AS(sudo.check(), "sudo refused the password for deploy on web1: Sorry, try again.",
                         pssh::SudoError);
    pssh::detail::SudoPrompt quiet({markers, "pw"}, false, "deploy", "web1");
    quiet.filter(markers.prompt);
    quiet.check();
    quiet.filter("deploy is not in the sudoers file.\n");
    CHECK_THROWS_WITH_AS(quiet.check_ended(),
                         "sudo refused the password for deploy on web1: deploy is not in the sudoers file.",
                         pssh::SudoError);
    pssh::detail::SudoPrompt none({markers, std::nullopt}, false, "deploy", "web1");
    none.filter(markers.prompt);
    CHECK(none.answer().empty());
    CHECK_THROWS_WITH_AS(none.check(),
                         "sudo asks for a password for deploy on web1: set RunOptions::sudo_password (pssh -A)",
                         pssh::SudoError);
  }

  TEST_CASE("the right password without a PTY: output exact, no marker in lines, chunks, sink or events") {
    const auto& user = users().asks;
    Events events;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user, &events));
    const char* command = "echo out; echo err >&2; whoami";
    auto output = client.run_command(command, {.sudo = true, .sudo_password = user.password()});
    Result r = result_of(client, output[0]);
    CHECK(r.out == std::vector<std::string>{"out", "root"});
    CHECK(r.err == std::vector<std::string>{"err"});
    CHECK(r.exit_code == 0);
    CHECK(r.error == "");
    auto texts = events.all();
    CHECK(std::count(texts.begin(), texts.end(), "root") == 1);
    check_clean(texts, user.password());

    // Chunks: the bytes as they came, less the markers.
    output = client.run_command(command, {.sudo = true, .sudo_password = user.password()});
    std::string out, err;
    for (const auto& chunk : output[0].stdout_chunks()) out += chunk;
    for (const auto& chunk : output[0].stderr_chunks()) err += chunk;
    client.join();
    CHECK(out == "out\nroot\n");
    CHECK(err == "err\n");

    // The sink.
    std::mutex mutex;
    std::string sunk[2];
    output = client.run_command(command, {.sudo = true,
                                          .sudo_password = user.password(),
                                          .on_output = [&](const pssh::HostOutput&, pssh::Stream s,
                                                           std::string_view bytes) {
                                            std::lock_guard lock(mutex);
                                            sunk[s == pssh::Stream::err].append(bytes);
                                          }});
    client.join();
    CHECK(sunk[0] == "out\nroot\n");
    CHECK(sunk[1] == "err\n");
    CHECK(output[0].exit_code() == 0);
  }

  TEST_CASE("the right password with a PTY: the prompt, its newline and the echo are not seen") {
    const auto& user = users().asks;
    Events events;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user, &events));
    auto output = client.run_command("echo out; echo err >&2; whoami",
                                     {.sudo = true, .sudo_password = user.password(), .use_pty = true});
    std::string raw;
    for (const auto& chunk : output[0].stdout_chunks()) raw += chunk;
    client.join();
    CHECK(raw == "out\r\nerr\r\nroot\r\n");
    CHECK(output[0].exit_code() == 0);
    check_clean(events.all(), user.password());
  }

  TEST_CASE("the caller's stdin reaches the command after the password, its EOF too") {
    const auto& user = users().asks;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user));
    auto output = client.run_command("cat; echo done", {.sudo = true, .sudo_password = user.password()});
    // Written and closed before sudo could have prompted.
    auto in = output[0].stdin_writer();
    in.write("user data\n");
    in.close();
    Result r = result_of(client, output[0]);
    CHECK(r.out == std::vector<std::string>{"user data", "done"});
    CHECK(r.err.empty());
    CHECK(r.exit_code == 0);
  }

  TEST_CASE("user: sudo -u another user, with the password") {
    const auto& user = users().asks;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user));
    auto output = client.run_command("whoami", {.user = "nobody", .sudo_password = user.password()});
    Result r = result_of(client, output[0]);
    CHECK(r.out == std::vector<std::string>{"nobody"});
    CHECK(r.exit_code == 0);
  }

  TEST_CASE("a wrong password is the host's SudoError within seconds, with and without a PTY") {
    const auto& user = users().asks;
    Events events;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user, &events));
    client.connect_auth();  // timed: the command alone, not the login
    for (bool pty : {false, true}) {
      INFO("pty: " << pty);
      within(60s, [&] {
        auto start = std::chrono::steady_clock::now();
        auto output = client.run_command(
            "echo ran", {.sudo = true, .sudo_password = "wrong", .use_pty = pty, .stop_on_errors = false});
        Result r = result_of(client, output[0]);
        // sudo answers a wrong password after PAM's delay (about 2.5 s).
        CHECK(seconds_since(start) < 8 * slowdown);
        CHECK(host_error_is<pssh::SudoError>(output[0]));
        CHECK(host_error_is<pssh::AuthenticationError>(output[0]));
        CHECK(r.error == "sudo refused the password for " + user.name() + " on 127.0.0.2: Sorry, try again.");
        CHECK_FALSE(r.exit_code);
        std::vector<std::string> seen = pty ? r.out : r.err;
        CHECK(seen == std::vector<std::string>{"Sorry, try again."});
        CHECK(std::find(r.out.begin(), r.out.end(), "ran") == r.out.end());
        CHECK(pssh::to_json(output[0])["error_type"] == "SudoError");
      });
    }
    check_clean(events.all(), "wrong");
  }

  TEST_CASE("a prompt without sudo_password is the host's SudoError at once, not a wait") {
    const auto& user = users().asks;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user));
    client.connect_auth();
    within(60s, [&] {
      auto start = std::chrono::steady_clock::now();
      auto output = client.run_command("echo ran", {.sudo = true, .stop_on_errors = false});
      Result r = result_of(client, output[0]);
      CHECK(seconds_since(start) < 4 * slowdown);
      CHECK(host_error_is<pssh::SudoError>(output[0]));
      CHECK(r.error == "sudo asks for a password for " + user.name() +
                           " on 127.0.0.2: set RunOptions::sudo_password (pssh -A)");
      CHECK(r.out.empty());
      CHECK(r.err.empty());
    });
  }

  TEST_CASE("NOPASSWD: nothing is written and the output is untouched") {
    const auto& user = users().nopasswd;
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user));
    for (std::optional<std::string> password : {std::optional<std::string>(user.password()),
                                                std::optional<std::string>()}) {
      auto output = client.run_command("whoami; cat", {.sudo = true, .sudo_password = password});
      auto in = output[0].stdin_writer();
      in.write("data\n");
      in.close();
      Result r = result_of(client, output[0]);
      CHECK(r.out == std::vector<std::string>{"root", "data"});
      CHECK(r.err.empty());
      CHECK(r.exit_code == 0);
    }
  }

  TEST_CASE("text before the prompt (sudo's lecture) stays, the prompt goes") {
    rig::SudoUser user({.lecture = true});
    pssh::ParallelClient client({"127.0.0.2"}, options_for(user));
    auto output = client.run_command("whoami", {.sudo = true, .sudo_password = user.password()});
    Result r = result_of(client, output[0]);
    CHECK(r.out == std::vector<std::string>{"root"});
    REQUIRE_FALSE(r.err.empty());
    CHECK(holds(r.err.front() + r.err[1], "We trust you have received the usual lecture"));
    CHECK(r.err.back() == "");  // the lecture ends with an empty line, then came the prompt
    check_clean(r.err, user.password());
  }

  TEST_CASE("12 hosts at once, each answered") {
    const auto& user = users().asks;
    auto hosts = rig::loopback_hosts(12);
    pssh::ParallelClient client(hosts, options_for(user));
    auto output = client.run_command("whoami", {.sudo = true, .sudo_password = user.password(),
                                                .stop_on_errors = false});
    client.join();
    for (auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(lines(h.stdout_lines()) == std::vector<std::string>{"root"});
      CHECK(lines(h.stderr_lines()).empty());
      CHECK(h.exit_code() == 0);
    }
  }

  TEST_CASE("no secret: not in any process's arguments or environment, nor in messages, events or JSON") {
    const auto& user = users().asks;
    Events events;
    auto hosts = rig::loopback_hosts(3);
    pssh::ParallelClient client(hosts, options_for(user, &events));
    auto output = client.run_command("echo ready; sleep 2; echo done",
                                     {.sudo = true, .sudo_password = user.password()});
    // Once each host printed "ready", sudo has taken the password and the
    // command sleeps: every process of the run is there to look at.
    for (auto& h : output) CHECK(*h.stdout_lines().begin() == "ready");
    CHECK_FALSE(in_any_process(user.password()));
    client.join();
    std::vector<std::string> texts = events.all();
    for (auto& h : output) {
      CHECK(h.exit_code() == 0);
      texts.push_back(pssh::to_json(h).dump());
    }
    check_clean(texts, user.password());

    // A refused one, on a PTY: the messages and the JSON.
    output = client.run_command("echo ran", {.sudo = true, .sudo_password = user.password() + "x",
                                             .use_pty = true, .stop_on_errors = false});
    client.join();
    texts = events.all();
    for (auto& h : output) {
      CHECK(host_error_is<pssh::SudoError>(h));
      texts.push_back(error_message(h));
      texts.push_back(pssh::to_json(h).dump());
    }
    check_clean(texts, user.password());
  }

  TEST_CASE("sudo_password without sudo or user is pssh::ConfigError before any host") {
    pssh::ParallelClient client({"127.0.0.2"}, server().options());
    CHECK_THROWS_WITH_AS(client.run_command("true", {.sudo_password = "x"}),
                         "RunOptions::sudo_password is set but the command does not run through sudo; "
                         "set sudo or user",
                         pssh::ConfigError);
  }

  // sudo -S stops at the first newline and hands the rest to the command;
  // a PTY's line editing acts on ^U, ^C, DEL (reviewer's finds).
  TEST_CASE("a sudo_password that cannot arrive as given is pssh::ConfigError, without the password") {
    pssh::ParallelClient client({"127.0.0.2"}, server().options());
    const std::string secret = "s3cret";
    for (const std::string& password : {secret + "\nINJECTED", secret + "\r"}) {
      CHECK_THROWS_WITH_AS(client.run_command("head -n1", {.sudo = true, .sudo_password = password}),
                           "RunOptions::sudo_password holds a newline (sudo -S would give what follows it "
                           "to the command)",
                           pssh::ConfigError);
    }
    for (const std::string& password : {"garbage\x15" + secret, secret + "\x7f", secret + "\x03"}) {
      CHECK_THROWS_WITH_AS(
          client.run_command("true", {.sudo = true, .sudo_password = password, .use_pty = true}),
          "RunOptions::sudo_password holds a newline or a control character (a PTY's line editing would "
          "change it)",
          pssh::ConfigError);
    }
    // Without a PTY, sudo reads a tab or ^U as they are.
    CHECK_NOTHROW(client.join(client.run_command("true", {.sudo = true, .sudo_password = secret + "\t\x15"})));
  }
}
