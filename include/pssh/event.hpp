/// \file
/// Progress events delivered to ClientOptions::on_event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pssh {

/// One of the remote command's two output streams.
enum class Stream { out, err };
/// \var Stream::out
/// stdout (and stderr too with a PTY)

/// \var Stream::err
/// stderr

/// One step of one host's work, given to ClientOptions::on_event on the
/// host's worker thread. Which fields are set depends on `kind`.
struct Event {
  /// What happened; each value names the fields it sets.
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
  Kind kind = Kind::connecting;  ///< says which of the fields below are set
  std::string host{};   ///< as given to the client
  std::string alias{};  ///< HostConfig::alias, else the host
  std::size_t index = 0;  ///< position in the client's host list
  Stream stream = Stream::out;  ///< `line`: the stream the line came from
  /// `line`: the line, decoded as RunOptions::encoding says, without its
  /// newline; `failed`: the error's message; `transfer`: the file's path.
  std::string text{};
  std::optional<int> exit_code{};  ///< `finished`: the exit code, if the server sent one
  ///@{
  std::uint64_t bytes_done = 0, bytes_total = 0;
  ///< `transfer`: bytes of the file (`text`) copied so far, and its size
  ///@}
};

}  // namespace pssh
