// Progress events delivered to ClientOptions::on_event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pssh {

enum class Stream { out, err };

struct Event {
  enum class Kind {
    connecting,     ///< opening the TCP connection
    connected,      ///< SSH handshake done, host key accepted
    authenticated,  ///< logged in
    started,        ///< the command runs
    line,           ///< a line of output arrived (`stream`, `text`)
    finished,       ///< the command exited (`exit_code`)
    failed,         ///< the host's work failed (`text` is the error)
    transfer,       ///< file transfer progress (`bytes_done`, `bytes_total`)
  };
  Kind kind = Kind::connecting;
  std::string host{};
  std::string alias{};
  std::size_t index = 0;  ///< position in the client's host list
  Stream stream = Stream::out;
  std::string text{};
  std::optional<int> exit_code{};
  std::uint64_t bytes_done = 0, bytes_total = 0;
};

}  // namespace pssh
