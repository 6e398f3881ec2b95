// Secrets never show: passwords, passphrases and in-memory keys are absent
// from every exception message, event and log line of failing runs.
#include "common.hpp"

#include <mutex>
#include <sstream>

namespace {

/// Everything a failing run told the caller, as one text.
struct Transcript {
  std::mutex mutex;
  std::string text;
  void add(const std::string& s) {
    std::lock_guard lock(mutex);
    text += s + "\n";
  }
  std::function<void(const pssh::Event&)> recorder() {
    return [this](const pssh::Event& e) { add(e.host + " " + e.alias + " " + e.text); };
  }
};

void run_and_record(Transcript& transcript, const std::vector<std::string>& hosts,
                    const pssh::ClientOptions& options) {
  try {
    pssh::ParallelClient client(hosts, options);
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    for (auto& h : output) transcript.add(error_message(h));
  } catch (const std::exception& e) {
    transcript.add(e.what());
  }
}

}  // namespace

TEST_SUITE("security") {
  TEST_CASE("passwords, passphrases and in-memory keys appear in no message, event or log") {
    Transcript transcript;
    std::ostringstream log;
    pssh::enable_host_logger(log);
    const auto& user = rig::password_user();
    const std::string password = "Wr0ng-Pass-4f1c9e";
    const std::string phrase = "Wr0ng-Phrase-8b2d7a";
    const std::string proxy_password = "Pr0xy-Pass-c3e5f1";

    auto options = server().options();
    options.pkey.reset();
    options.user = user.name;
    options.password = password;
    options.on_event = transcript.recorder();
    run_and_record(transcript, {"127.0.0.2", "127.0.0.3"}, options);

    rig::TempDir dir;
    auto locked = dir.path() / "locked";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "Right-Phrase", "-f", locked.string()});
    options.pkey = pssh::PrivateKey::file(locked.string(), phrase);
    run_and_record(transcript, {"127.0.0.2"}, options);

    auto stranger = dir.path() / "stranger";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger.string()});
    std::string pem = rig::read_file(stranger);
    options.pkey = pssh::PrivateKey::memory(pem);
    options.password.reset();
    run_and_record(transcript, {"127.0.0.2"}, options);

    options.pkey.reset();
    options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = server().port(), .user = user.name,
                                      .password = proxy_password, .pkey = {}};
    run_and_record(transcript, {"127.0.0.2"}, options);
    pssh::enable_host_logger(nullptr);

    std::string everything = transcript.text + log.str();
    INFO(everything);
    CHECK(everything.find("cannot authenticate") != std::string::npos);  // the runs did fail
    CHECK(everything.find("passphrase is wrong") != std::string::npos);
    CHECK(everything.find("through the proxy") != std::string::npos);
    for (const std::string& secret : {password, phrase, proxy_password, user.password})
      CHECK(everything.find(secret) == std::string::npos);
    // Any 24 characters from the middle of the key's base64 body.
    CHECK(everything.find(pem.substr(pem.size() / 2, 24)) == std::string::npos);
  }
}
