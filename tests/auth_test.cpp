// Logging in: key file, key in memory, passphrases, agent, default
// identities, password, keyboard-interactive, per-host switches.
#include "common.hpp"

#include <signal.h>

#include <filesystem>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

pssh::ClientOptions no_credentials() {
  auto options = server().options();
  options.pkey.reset();
  return options;
}

int run_true(const std::string& host, const pssh::ClientOptions& options,
             const pssh::HostConfig& config = {}) {
  pssh::Client client(host, options, config);
  auto output = client.run_command("true");
  client.wait_finished(output);
  return *output.exit_code();
}

/// An agent holding the suite's key, frozen with SIGSTOP; agent auth only.
struct StoppedAgent {
  StoppedAgent() {
    agent.add(server().user_key());
    ::setenv("SSH_AUTH_SOCK", agent.socket().c_str(), 1);
    ::kill(agent.pid(), SIGSTOP);
    options.allow_agent = true;
  }
  ~StoppedAgent() {
    ::kill(agent.pid(), SIGCONT);
    ::unsetenv("SSH_AUTH_SOCK");
  }
  rig::Agent agent;
  pssh::ClientOptions options = no_credentials();
};

}  // namespace

TEST_SUITE("auth") {
  TEST_CASE("agent slots come back when agent auth fails: later agent logins do not wait") {
    {
      StoppedAgent stopped;
      stopped.options.timeout = 1s;
      pssh::ParallelClient client(rig::loopback_hosts(10), stopped.options);
      auto output = client.run_command("true", {.stop_on_errors = false});
      client.join(output);
      for (auto& h : output) CHECK(h.exception());
    }
    rig::Agent agent;
    agent.add(server().user_key());
    ::setenv("SSH_AUTH_SOCK", agent.socket().c_str(), 1);
    auto options = no_credentials();
    options.allow_agent = true;
    options.timeout = 5s;
    auto start = std::chrono::steady_clock::now();
    int status = -1;
    CHECK_NOTHROW(status = run_true("127.0.0.2", options));
    CHECK(status == 0);
    CHECK(seconds_since(start) < 3 * slowdown);
    ::unsetenv("SSH_AUTH_SOCK");
  }

  TEST_CASE("a private key file logs in") { CHECK(run_true("127.0.0.2", server().options()) == 0); }

  TEST_CASE("a private key from memory logs in") {
    auto options = no_credentials();
    options.pkey = pssh::PrivateKey::memory(rig::read_file(server().user_key()));
    CHECK(run_true("127.0.0.2", options) == 0);
  }

  TEST_CASE("a passphrase-protected key: right passphrase logs in, wrong one fails at construction") {
    rig::TempDir dir;
    auto key = dir.path() / "locked";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-phrase", "-f", key.string()});
    auto authorized = server().dir() / "authorized_keys";
    std::string before = rig::read_file(authorized);
    rig::write_file(authorized, before + rig::read_file(key.string() + ".pub"));
    auto options = no_credentials();
    options.pkey = pssh::PrivateKey::file(key.string(), "s3cret-phrase");
    CHECK(run_true("127.0.0.2", options) == 0);

    options.pkey = pssh::PrivateKey::file(key.string(), "wrong-phrase");
    try {
      pssh::Client client("127.0.0.2", options);
      FAIL("expected PKeyFileError");
    } catch (const pssh::PKeyFileError& e) {
      std::string message = e.what();
      CHECK(message.find("passphrase is wrong") != std::string::npos);
      CHECK(message.find("wrong-phrase") == std::string::npos);
      CHECK(e.host() == "127.0.0.2");
    }
    rig::write_file(authorized, before);
  }

  TEST_CASE("a missing key file is a PKeyFileError at construction, with '~' expanded") {
    auto options = no_credentials();
    options.pkey = pssh::PrivateKey::file("~/no-such-key");
    CHECK(options.pkey->path() == std::string(std::getenv("HOME")) + "/no-such-key");
    CHECK_THROWS_CONTAINING(pssh::Client("127.0.0.2", options), pssh::PKeyFileError,
                            "cannot read private key file " + options.pkey->path() +
                                " for 127.0.0.2: No such file or directory");
  }

  TEST_CASE("the SSH agent logs in when allowed, and a host can turn it off") {
    rig::Agent agent;
    agent.add(server().user_key());
    ::setenv("SSH_AUTH_SOCK", agent.socket().c_str(), 1);
    auto options = no_credentials();
    options.allow_agent = true;
    std::vector<pssh::HostConfig> configs(2);
    configs[1].allow_agent = false;
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options, configs);
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    ::unsetenv("SSH_AUTH_SOCK");
    CHECK(output[0].exit_code() == 0);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[1]));
    CHECK(error_message(output[1]).find("tried no method") != std::string::npos);
  }

  TEST_CASE_FIXTURE(StoppedAgent, "an agent that stops answering is a Timeout, not a hang") {
    options.timeout = 1s;
    options.num_retries = 0;
    auto start = std::chrono::steady_clock::now();
    pssh::ParallelClient client({"127.0.0.2"}, options);
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    CHECK(seconds_since(start) < 3.0 * slowdown);
    REQUIRE(host_error_is<pssh::Timeout>(output[0]));
    INFO(error_message(output[0]));
    CHECK(error_message(output[0]).find("agent") != std::string::npos);
  }

  TEST_CASE_FIXTURE(StoppedAgent,
                    "cancel() reaches hosts asking a hung agent and those waiting their turn for it") {
    // Long enough that only the cancel can end the hosts within the check below.
    options.timeout = 5s;
    pssh::ParallelClient client(rig::loopback_hosts(20), options);  // more than the 8 agent slots
    CHECK(seconds_to_cancel(client, 1s) < 2.0 * slowdown);
    for (const auto& h : client.get_last_output()) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(host_error_is<pssh::Cancelled>(h));
    }
  }

  TEST_CASE("default identities in ~/.ssh log in when identity_auth is on") {
    fs::path ssh_dir = fs::path(std::getenv("HOME")) / ".ssh";
    fs::create_directories(ssh_dir);
    fs::copy_file(server().user_key(), ssh_dir / "id_ed25519", fs::copy_options::overwrite_existing);
    auto options = no_credentials();
    options.identity_auth = true;
    CHECK(run_true("127.0.0.2", options) == 0);
    fs::remove(ssh_dir / "id_ed25519");
  }

  TEST_CASE("a password logs in; a wrong one fails without showing it") {
    const auto& user = rig::password_user();
    auto options = no_credentials();
    options.user = user.name;
    options.password = user.password;
    CHECK(run_true("127.0.0.2", options) == 0);

    options.password = "not-the-Passw0rd";
    std::vector<std::string> events;
    options.on_event = [&](const pssh::Event& e) { events.push_back(e.text); };
    pssh::Client client("127.0.0.2", options);
    try {
      client.run_command("true");
      FAIL("expected AuthenticationError");
    } catch (const pssh::AuthenticationError& e) {
      std::string message = e.what();
      INFO(message);
      CHECK(message.find("cannot authenticate to " + user.name + "@127.0.0.2:" +
                         std::to_string(server().port()) + ": tried password") == 0);
      CHECK(message.find("not-the-Passw0rd") == std::string::npos);
    }
    for (const auto& text : events) CHECK(text.find("not-the-Passw0rd") == std::string::npos);
  }

  TEST_CASE("keyboard-interactive is answered with the password") {
    rig::Sshd pam_server({.listeners = 1,
                          .extra_config = {"UsePAM yes", "PasswordAuthentication no",
                                           "KbdInteractiveAuthentication yes"},
                          .host_key = {}});
    const auto& user = rig::password_user();
    auto options = pam_server.options();
    options.pkey.reset();
    options.user = user.name;
    options.password = user.password;
    std::vector<pssh::Event::Kind> kinds;
    pssh::Client client("127.0.0.2", options);
    auto output = client.run_command("echo $USER");
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{user.name});
  }

  TEST_CASE("no usable method lists what was tried and what the server allows") {
    auto options = no_credentials();
    CHECK_THROWS_CONTAINING(run_true("127.0.0.2", options), pssh::AuthenticationError,
                            "tried no method; server allows publickey,password");
  }

  TEST_CASE("forward_agent lets the remote command use the local agent; a host can turn it off") {
    rig::Agent agent;
    agent.add(server().user_key());
    ::setenv("SSH_AUTH_SOCK", agent.socket().c_str(), 1);
    auto options = server().options();
    options.forward_agent = true;
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options, {{}, {.forward_agent = false}});
    auto output = client.run_command("ssh-add -l; echo done", {.stop_on_errors = false});
    client.join(output);
    ::unsetenv("SSH_AUTH_SOCK");
    std::string fingerprint;
    rig::run({"ssh-keygen", "-lf", server().user_key().string() + ".pub"}, &fingerprint);
    std::string sha = fingerprint.substr(fingerprint.find(' ') + 1, fingerprint.find(' ', fingerprint.find(' ') + 1) - fingerprint.find(' ') - 1);
    auto forwarded = lines(output[0].stdout_lines());
    REQUIRE(forwarded.size() == 2);
    CHECK(forwarded[0].find(sha) != std::string::npos);
    auto plain = lines(output[1].stdout_lines());
    CHECK(plain == std::vector<std::string>{"done"});  // ssh-add found no agent
  }

  TEST_CASE("an OpenSSH certificate signed by a CA the server trusts logs in with its key") {
    rig::TempDir ca_dir;
    auto ca = ca_dir.path() / "ca";
    auto key = ca_dir.path() / "user";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca.string()});
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()});
    auto options = server().options();
    REQUIRE(rig::run({"ssh-keygen", "-q", "-s", ca.string(), "-I", "pssh-test", "-n", *options.user,
                      key.string() + ".pub"}) == 0);
    rig::Sshd trusting({.listeners = 1,
                        .extra_config = {"TrustedUserCAKeys " + ca.string() + ".pub"},
                        .host_key = {}});
    options = trusting.options();
    options.pkey = pssh::PrivateKey::file(key.string());
    options.cert_file = key.string() + "-cert.pub";
    CHECK(run_true("127.0.0.2", options) == 0);

    options.cert_file.reset();  // the key alone is not in authorized_keys
    CHECK_THROWS_AS(run_true("127.0.0.2", options), pssh::AuthenticationError);
  }

  // libssh 0.10 leaks ~225 bytes of GSSAPI state when gssapi-with-mic fails,
  // which LeakSanitizer would report at exit: not run under ASan.
  TEST_CASE("gssapi_auth reaches libssh; without Kerberos credentials it fails clearly" *
            doctest::skip(address_sanitizer) *
            doctest::description("libssh leaks its GSSAPI state, which LeakSanitizer reports")) {
    rig::Sshd kerberos({.listeners = 1,
                        .extra_config = {"GSSAPIAuthentication yes",
                                         "AuthenticationMethods gssapi-with-mic"},
                        .host_key = {}});
    auto options = kerberos.options();
    options.gssapi_auth = true;
    options.gssapi_server_identity = "host.example";
    options.gssapi_client_identity = "user@EXAMPLE";
    options.gssapi_delegate_credentials = true;
    CHECK_THROWS_CONTAINING(run_true("127.0.0.2", options), pssh::AuthenticationError,
                            "tried gssapi-with-mic; server allows gssapi-with-mic");
    options.gssapi_auth = false;
    CHECK_THROWS_CONTAINING(run_true("127.0.0.2", options), pssh::AuthenticationError,
                            "tried no method; server allows gssapi-with-mic");
  }

  // libssh 0.10 also leaks its GSSAPI state (120 bytes a login, with the
  // Kerberos context under it) after a successful gssapi-with-mic.
  TEST_CASE("Kerberos: a real KDC's ticket logs in by gssapi-with-mic; a delegated ticket works on the host" *
            doctest::skip(address_sanitizer) *
            doctest::description("libssh leaks its GSSAPI state, which LeakSanitizer reports")) {
    rig::Kdc kdc;
    const auto hosts = rig::loopback_hosts(3);
    const std::string krb5_config = "KRB5_CONFIG=" + kdc.krb5_conf().string();
    rig::Sshd kerberos({.extra_config = {"GSSAPIAuthentication yes", "GSSAPIStrictAcceptorCheck no",
                                         "AuthenticationMethods gssapi-with-mic"},
                        .environment = {krb5_config, "KRB5_KTNAME=FILE:" + kdc.service_keytab(hosts).string()}});
    auto cache = kdc.ticket_cache(rig::current_user());
    ::setenv("KRB5_CONFIG", kdc.krb5_conf().c_str(), 1);
    ::setenv("KRB5CCNAME", ("FILE:" + cache.string()).c_str(), 1);
    auto options = kerberos.options();
    options.pkey.reset();
    options.gssapi_auth = true;
    // On the host: the session's ticket cache, then a service ticket bought with it.
    const std::string command = "klist && kvno host/" + hosts[1] + "@" + rig::Kdc::realm;
    auto run = [&](const pssh::ClientOptions& o) {
      pssh::ParallelClient client(hosts, o);
      auto output = client.run_command(command, {.stop_on_errors = false});
      client.join(output, {.join_timeout = 60s});
      return output;
    };

    for (auto& h : run(options)) {  // logged in, nothing delegated
      INFO(h.host() << ": " << error_message(h));
      CHECK(h.exit_code() == 1);
      CHECK(lines(h.stderr_lines()).at(0).find("No credentials cache found") != std::string::npos);
    }
    options.gssapi_delegate_credentials = true;
    for (auto& h : run(options)) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(h.exit_code() == 0);
      auto out = lines(h.stdout_lines());
      CHECK(std::find(out.begin(), out.end(), "Default principal: " + rig::current_user() + "@PSSH.TEST") !=
            out.end());
      CHECK(out.back() == "host/" + hosts[1] + "@PSSH.TEST: kvno = 2");
    }
    // The same from an ssh config, as ssh(1) reads it.
    options.gssapi_delegate_credentials.reset();
    rig::write_file(kerberos.ssh_config(), "Host *\n  GSSAPIDelegateCredentials yes\n");
    for (auto& h : run(options)) CHECK(h.exit_code() == 0);
    rig::write_file(kerberos.ssh_config(), "");

    ::setenv("KRB5CCNAME", ("FILE:" + (kerberos.dir() / "no-such-cache").string()).c_str(), 1);
    CHECK_THROWS_CONTAINING(run_true(hosts[0], options), pssh::AuthenticationError,
                            "tried gssapi-with-mic; server allows gssapi-with-mic");
    ::unsetenv("KRB5CCNAME");
    ::unsetenv("KRB5_CONFIG");
  }
}
