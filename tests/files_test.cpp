// File transfer over SFTP against the real sshd: round trips to 20 hosts at
// once, trees, modes, progress, and every error. The "remote" side is this
// machine's file system, so the tests read it directly.
#include "common.hpp"

#include "files/scp.hpp"
#include "files/sftp.hpp"

#include <pwd.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(generator());
  return bytes;
}

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 07777;
}

void make_file(const fs::path& path, const std::string& bytes, unsigned mode) {
  fs::create_directories(path.parent_path());
  rig::write_file(path, bytes);
  ::chmod(path.c_str(), mode);
}

/// Relative path -> (content or "<dir>", mode) for every entry below `root`.
std::map<std::string, std::pair<std::string, unsigned>> tree_of(const fs::path& root) {
  std::map<std::string, std::pair<std::string, unsigned>> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::string name = entry.path().lexically_relative(root).string();
    if (entry.is_symlink()) tree[name] = {"<symlink>", 0};
    else if (entry.is_directory()) tree[name] = {"<dir>", 0};
    else tree[name] = {rig::read_file(entry.path()), mode_of(entry.path())};
  }
  return tree;
}

std::vector<std::map<std::string, std::string>> numbered(std::size_t count) {
  std::vector<std::map<std::string, std::string>> args;
  for (std::size_t i = 0; i < count; ++i) args.push_back({{"n", std::to_string(i)}});
  return args;
}

using CopyCall = std::vector<pssh::Transfer> (pssh::ParallelClient::*)(const std::string&, const std::string&,
                                                                       const pssh::CopyOptions&);
struct Protocol {
  CopyCall send, recv;
};

/// Runs the calling test once per protocol.
Protocol each_protocol() {
  Protocol sftp{&pssh::ParallelClient::copy_file, &pssh::ParallelClient::copy_remote_file};
  Protocol scp{&pssh::ParallelClient::scp_send, &pssh::ParallelClient::scp_recv};
  Protocol chosen = sftp;
  SUBCASE("sftp") { chosen = sftp; }
  SUBCASE("scp") { chosen = scp; }
  return chosen;
}

struct Files {
  rig::TempDir local, remote;
  pssh::ClientOptions options = server().options();
};

}  // namespace

TEST_SUITE("files") {
  TEST_CASE_FIXTURE(Files, "a binary file goes to 20 hosts and comes back byte-exact, mode kept") {
    const std::size_t count = 20;
    std::string bytes = random_bytes(300 * 1024 + 7, 1);
    fs::path source = local.path() / "payload.bin";
    make_file(source, bytes, 0640);
    options.pool_size = count;
    pssh::ParallelClient client(rig::loopback_hosts(count), options);
    std::string remote_template = (remote.path() / "{n}" / "new dir" / "file ü.bin").string();
    Protocol protocol = each_protocol();

    pssh::join((client.*protocol.send)(source, remote_template, {.copy_args = numbered(count)}));
    for (std::size_t i = 0; i < count; ++i) {
      fs::path copy = remote.path() / std::to_string(i) / "new dir" / "file ü.bin";
      CHECK(rig::read_file(copy) == bytes);
      CHECK(mode_of(copy) == 0640);
    }

    auto back = (client.*protocol.recv)(remote_template, (local.path() / "back" / "{n}.bin").string(),
                                        {.copy_args = numbered(count)});
    pssh::join(back);
    for (std::size_t i = 0; i < count; ++i) {
      CHECK(back[i].host() == rig::loopback_host(i));
      CHECK(rig::read_file(local.path() / "back" / (std::to_string(i) + ".bin")) == bytes);
    }
  }

  TEST_CASE_FIXTURE(Files, "without copy_args each host's download gets a _<host> suffix") {
    fs::path source = remote.path() / "log.txt";
    make_file(source, "one log\n", 0644);
    pssh::ParallelClient client(rig::loopback_hosts(3), options);
    pssh::join(client.copy_remote_file(source, (local.path() / "log.txt").string()));
    for (const auto& host : rig::loopback_hosts(3))
      CHECK(rig::read_file(local.path() / ("log.txt_" + host)) == "one log\n");
    pssh::join(client.copy_remote_file(source, (local.path() / "log").string(), {.suffix_separator = "."}));
    CHECK(fs::exists(local.path() / "log.127.0.0.3"));
  }

  TEST_CASE_FIXTURE(Files, "into_directory: an existing remote directory receives the file or tree, as scp") {
    make_file(local.path() / "app.conf", "x=1\n", 0644);
    make_file(local.path() / "tree" / "sub" / "deep.txt", "deep\n", 0644);
    fs::create_directories(remote.path() / "etc");
    pssh::ParallelClient client({"127.0.0.2"}, options);
    pssh::join(client.copy_file((local.path() / "app.conf").string(), (remote.path() / "etc").string(),
                                {.into_directory = true}));
    CHECK(rig::read_file(remote.path() / "etc" / "app.conf") == "x=1\n");
    // A target that is no directory is the file's new name, as without it.
    pssh::join(client.copy_file((local.path() / "app.conf").string(), (remote.path() / "etc" / "renamed").string(),
                                {.into_directory = true}));
    CHECK(rig::read_file(remote.path() / "etc" / "renamed") == "x=1\n");
    pssh::join(client.copy_file((local.path() / "tree").string(), (remote.path() / "etc").string(),
                                {.recurse = true, .into_directory = true}));
    CHECK(rig::read_file(remote.path() / "etc" / "tree" / "sub" / "deep.txt") == "deep\n");
    // Without it, a directory target is refused, as before.
    auto plain = client.copy_file((local.path() / "app.conf").string(), (remote.path() / "etc").string());
    CHECK_THROWS_AS(pssh::join(plain), pssh::SFTPIOError);
    // "~/" is the login's home (the password database's, where SFTP starts), as scp takes it.
    const passwd* login = ::getpwuid(::geteuid());
    REQUIRE(login != nullptr);
    auto in_home = fs::path(login->pw_dir) / ("pssh-files-test-" + std::to_string(::getpid()));
    pssh::join(client.copy_file((local.path() / "app.conf").string(), "~/" + in_home.filename().string(),
                                {.into_directory = true}));
    CHECK(rig::read_file(in_home) == "x=1\n");
    fs::remove(in_home);
    // SCP names its target exactly: the option is refused before any host starts.
    CHECK_THROWS_AS(client.scp_send((local.path() / "app.conf").string(), (remote.path() / "etc").string(),
                                    {.into_directory = true}),
                    pssh::ConfigError);
  }

  TEST_CASE_FIXTURE(Files, "a setuid remote file arrives without setuid, its mode under the umask") {
    fs::path source = remote.path() / "tool";
    make_file(source, "#!/bin/sh\n", 04777);
    Protocol protocol = each_protocol();
    pssh::ParallelClient client({"127.0.0.2"}, options);
    mode_t old_umask = ::umask(022);
    pssh::join((client.*protocol.recv)(source, (local.path() / "tool").string(), {.suffix_separator = {}}));
    ::umask(old_umask);
    CHECK(mode_of(local.path() / "tool") == 0755);
  }

  TEST_CASE_FIXTURE(Files, "Client copies keep the local name; an empty file survives") {
    make_file(local.path() / "empty", "", 0600);
    pssh::Client client("127.0.0.2", options);
    client.copy_file((local.path() / "empty").string(), (remote.path() / "empty").string());
    CHECK(fs::file_size(remote.path() / "empty") == 0);
    client.copy_remote_file((remote.path() / "empty").string(), (local.path() / "again").string());
    CHECK(fs::exists(local.path() / "again"));
    CHECK(fs::file_size(local.path() / "again") == 0);
  }

  TEST_CASE_FIXTURE(Files, "a tree with nested and empty directories round-trips; symlinks are not followed") {
    fs::path tree = local.path() / "tree";
    make_file(tree / "a.txt", "alpha\n", 0644);
    make_file(tree / "bin" / "run me.sh", "#!/bin/sh\necho hi\n", 0755);
    make_file(tree / "deep" / "er" / "data.bin", random_bytes(200000, 2), 0600);
    make_file(tree / "zero", "", 0644);
    fs::create_directories(tree / "empty");
    const std::size_t count = 20;
    options.pool_size = count;
    pssh::ParallelClient client(rig::loopback_hosts(count), options);
    std::string remote_tree = (remote.path() / "{n}" / "tree").string();
    Protocol protocol = each_protocol();

    pssh::join((client.*protocol.send)(tree, remote_tree, {.recurse = true, .copy_args = numbered(count)}));
    for (std::size_t i = 0; i < count; ++i) CHECK(tree_of(remote.path() / std::to_string(i) / "tree") == tree_of(tree));

    // Only SFTP can promise this: a remote `scp -f -r` follows links itself.
    bool sftp = protocol.recv == &pssh::ParallelClient::copy_remote_file;
    if (sftp) fs::create_directory_symlink("/etc", remote.path() / "0" / "tree" / "escape");
    pssh::join((client.*protocol.recv)(remote_tree, (local.path() / "back{n}").string(),
                                       {.recurse = true, .copy_args = numbered(count)}));
    for (std::size_t i = 0; i < count; ++i) CHECK(tree_of(local.path() / ("back" + std::to_string(i))) == tree_of(tree));
    CHECK_FALSE(fs::exists(local.path() / "back0" / "escape"));
  }

  TEST_CASE_FIXTURE(Files, "bad local input is refused before any host is touched") {
    fs::create_directories(local.path() / "dir");
    std::atomic<int> connects{0};
    options.on_event = [&](const pssh::Event& e) { connects += e.kind == pssh::Event::Kind::connecting; };
    pssh::ParallelClient client(rig::loopback_hosts(2), options);
    CHECK_THROWS_CONTAINING(client.copy_file((local.path() / "dir").string(), "x"), pssh::ConfigError,
                            "is a directory; set recurse");
    CHECK_THROWS_CONTAINING(client.copy_file((local.path() / "missing").string(), "x"), std::system_error,
                            "cannot copy " + (local.path() / "missing").string());
    // A pipe would hold a worker for ever, a device never end.
    REQUIRE(::mkfifo((local.path() / "fifo").c_str(), 0600) == 0);
    CHECK_THROWS_CONTAINING(client.copy_file((local.path() / "fifo").string(), "x"), pssh::ConfigError,
                            "is not a regular file");
    CHECK_THROWS_CONTAINING(client.scp_send("/dev/zero", "x"), pssh::ConfigError, "is not a regular file");
    CHECK_THROWS_CONTAINING(client.copy_file("{n}", "x", {.copy_args = numbered(1)}), pssh::HostArgumentError,
                            "copy_args has 1 entries for 2 hosts");
    CHECK(connects == 0);
  }

  TEST_CASE_FIXTURE(Files, "remote errors are the host's SFTPIOError with the path and the reason") {
    make_file(local.path() / "f", "x", 0644);
    make_file(remote.path() / "file", "x", 0644);
    fs::create_directories(remote.path() / "dir");
    pssh::Client client("127.0.0.2", options);
    CHECK_THROWS_CONTAINING(client.copy_remote_file((remote.path() / "nope").string(), (local.path() / "n").string()),
                            pssh::SFTPIOError, "no such file or directory");
    CHECK_THROWS_CONTAINING(client.copy_remote_file((remote.path() / "dir").string(), (local.path() / "d").string()),
                            pssh::SFTPIOError, "is a directory; set recurse");
    CHECK_THROWS_CONTAINING(client.copy_file((local.path() / "f").string(), (remote.path() / "file" / "under").string()),
                            pssh::SFTPIOError, "a file of that name is in the way");
    // As a user without rights on root's directory.
    const auto& user = rig::password_user();
    auto as_user = options;
    as_user.pkey.reset();
    as_user.user = user.name;
    as_user.password = user.password;
    ::chmod(remote.path().c_str(), 0755);
    pssh::Client other("127.0.0.2", as_user);
    CHECK_THROWS_CONTAINING(other.copy_file((local.path() / "f").string(), (remote.path() / "denied").string()),
                            pssh::SFTPIOError, "cannot create " + (remote.path() / "denied").string() +
                                                   " on 127.0.0.2: permission denied");
  }

  TEST_CASE_FIXTURE(Files, "a cancelled download leaves no file, not even a partial one") {
    fs::path big = remote.path() / "big";
    make_file(big, random_bytes(64 << 20, 3), 0644);
    std::atomic<bool> copying{false};
    options.on_event = [&](const pssh::Event& event) {
      if (event.kind == pssh::Event::Kind::transfer && event.bytes_done > 0) copying = true;
    };
    pssh::ParallelClient client({"127.0.0.2"}, options);
    Protocol protocol = each_protocol();
    auto transfers = (client.*protocol.recv)(big.string(), (local.path() / "big").string(), {});
    REQUIRE(eventually([&] { return copying.load(); }));  // part of the file is here
    client.cancel();
    transfers[0].wait();
    CHECK(transfers[0].exception() != nullptr);
    CHECK_THROWS_AS(pssh::join(transfers), pssh::Cancelled);
    CHECK(fs::is_empty(local.path()));
  }

  TEST_CASE_FIXTURE(Files, "progress events count every byte of each file") {
    std::string bytes = random_bytes(3 * 1024 * 1024 + 5, 4);
    make_file(local.path() / "p", bytes, 0644);
    std::mutex mutex;
    std::vector<pssh::Event> events;
    options.on_event = [&](const pssh::Event& e) {
      std::lock_guard lock(mutex);
      if (e.kind == pssh::Event::Kind::transfer) events.push_back(e);
    };
    pssh::Client client("127.0.0.2", options);
    client.copy_file((local.path() / "p").string(), (remote.path() / "p").string());
    REQUIRE(events.size() >= 3);
    CHECK(events.front().bytes_done == 0);
    CHECK(events.back().bytes_done == bytes.size());
    CHECK(events.back().bytes_total == bytes.size());
    CHECK(events.back().text == (remote.path() / "p").string());
  }

  TEST_CASE_FIXTURE(Files, "scp errors are the host's SCPError with the remote's reason") {
    make_file(local.path() / "f", "x", 0644);
    fs::create_directories(remote.path() / "dir");
    pssh::Client client("127.0.0.2", options);
    CHECK_THROWS_CONTAINING(client.scp_recv((remote.path() / "nope").string(), (local.path() / "n").string()),
                            pssh::SCPError, "No such file or directory");
    CHECK_THROWS_CONTAINING(client.scp_recv((remote.path() / "dir").string(), (local.path() / "d").string()),
                            pssh::SCPError, "not a regular file");
    CHECK_THROWS_CONTAINING(client.scp_send((local.path() / "f").string(), (remote.path() / "dir").string() + "/"),
                            pssh::SCPError, "names no file");
    CHECK_FALSE(fs::exists(local.path() / "n"));
  }

  TEST_CASE_FIXTURE(Files, "a hostile scp source cannot write outside the target directory") {
    // Every session on this sshd runs the script instead of `scp -f`.
    rig::TempDir scripts;
    auto script = scripts.path() / "hostile-scp";
    rig::write_file(script, "#!/bin/sh\nprintf 'D0755 0 top\\nC0644 2 ../evil\\nhi'\ncat >/dev/null\n");
    fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    rig::Sshd hostile({.listeners = 1, .extra_config = {"ForceCommand " + script.string()}, .host_key = {}});
    auto hostile_options = hostile.options();
    pssh::Client client("127.0.0.2", hostile_options);
    CHECK_THROWS_CONTAINING(client.scp_recv("anything", (local.path() / "target").string(), {.recurse = true}),
                            pssh::SCPError, "refusing remote entry '../evil' from 127.0.0.2");
    CHECK_FALSE(fs::exists(local.path() / "evil"));
    CHECK(fs::is_empty(local.path() / "target"));
  }

  TEST_CASE_FIXTURE(Files, "a host without a working sftp subsystem is an SFTPError") {
    rig::Sshd no_sftp({.listeners = 1, .extra_config = {"ForceCommand /bin/false"}, .host_key = {}});
    make_file(local.path() / "f", "x", 0644);
    pssh::Client client("127.0.0.2", no_sftp.options());
    try {
      client.copy_file((local.path() / "f").string(), "f");
      FAIL("expected SFTPError");
    } catch (const pssh::SFTPIOError& e) {
      FAIL("expected the session-level SFTPError, got SFTPIOError: " << e.what());
    } catch (const pssh::SFTPError& e) {
      CHECK(std::string(e.what()).find("starting SFTP (is the sftp subsystem enabled?) on ") == 0);
      CHECK(e.host() == "127.0.0.2");
    }
  }

  TEST_CASE("scp records are parsed strictly") {
    auto record = pssh::detail::parse_scp_record("C0644 12345 file name.txt", "h");
    CHECK(record.type == 'C');
    CHECK(record.mode == 0644);
    CHECK(record.size == 12345);
    CHECK(record.name == "file name.txt");
    CHECK(pssh::detail::parse_scp_record("D0755 0 dir", "h").type == 'D');
    CHECK(pssh::detail::parse_scp_record("E", "h").type == 'E');
    CHECK(pssh::detail::parse_scp_record("T1 0 2 0", "h").type == 'T');
    for (const char* bad : {"", "X", "E1", "C644", "C0644 12", "C0644 12 ", "C09 1 a", "C06444 1 a",
                            "C0644 -1 a", "C0644 1x a", "C 1 a", "D0755  dir"}) {
      INFO("record: '" << bad << "'");
      CHECK_THROWS_CONTAINING(pssh::detail::parse_scp_record(bad, "web1"), pssh::SCPError,
                              "scp on web1 sent a malformed record");
    }
  }

  TEST_CASE("remote listing names that would leave the target are refused") {
    for (const char* bad : {"", ".", "..", "../x", "a/b", "/etc"}) CHECK_FALSE(pssh::detail::is_safe_entry_name(bad));
    for (const char* good : {"a", "..a", "a..", ".hidden", "file name ü"}) CHECK(pssh::detail::is_safe_entry_name(good));
  }
}
