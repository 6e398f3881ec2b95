// How the pssh commands get the password -A asks for: as ssh(1) asks, on the
// terminal without echo, else from the program SSH_ASKPASS names.
#pragma once

#include <string>

namespace cli {

/// The password, without its newline. Asks once: `prompt` is written to
/// /dev/tty and a line read from it with the echo off (the terminal is
/// restored on every way out, a signal included). Without a terminal, or
/// with SSH_ASKPASS_REQUIRE=force, the program SSH_ASKPASS names is run with
/// `prompt` as its argument, and its stdout is the password.
/// std::runtime_error if neither works.
std::string ask_password(const std::string& prompt);

}  // namespace cli
