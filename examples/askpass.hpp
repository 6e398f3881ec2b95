// How the pssh command gets sudo's password (-A): from the program that
// PSSH_ASKPASS names, as ssh(1) uses SSH_ASKPASS, else from the terminal,
// without echo.
#pragma once

#include <string>

namespace cli {

/// The password, without its newline. Asks once. PSSH_ASKPASS, if set and
/// not empty, is run with `prompt` as its argument and its stdout is the
/// password; else `prompt` is written to /dev/tty and a line read from it
/// with the echo off (the terminal is restored on every way out, a signal
/// included). std::runtime_error if neither works.
std::string ask_password(const std::string& prompt);

}  // namespace cli
