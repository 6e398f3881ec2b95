// prsync: rsync to every host at once, over the library's connections.
//
// rsync speaks its protocol with a copy of itself on the host, started
// through a remote shell (its -e program, ssh by default). prsync makes that
// shell a bridge: rsync runs this program again as
//
//     pssh --rsync-bridge CONTROL DATA ERRORS HOST rsync --server ...
//
// with three sockets inherited from prsync. The bridge sends the command on
// CONTROL, relays rsync's bytes on DATA and the remote stderr from ERRORS,
// and exits with the remote exit status prsync sends back on CONTROL. prsync
// runs the command on the host with run_command(), as any command: the ssh
// config, known hosts, proxies, timeouts and Ctrl-C are the library's.
#pragma once

#include "arguments.hpp"
#include "interrupts.hpp"
#include "output.hpp"

#include <pssh/client.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace cli {

/// The first argument that makes the program rsync's remote shell.
inline constexpr std::string_view bridge_option = "--rsync-bridge";

/// The remote shell's side: `args` follow bridge_option. Returns the remote
/// command's exit status (255, as ssh's, when there is none).
int run_bridge(const std::vector<std::string>& args);

/// prsync: the local paths (all operands but the last) to the remote path
/// (the last) on every host, one rsync per host, reported with pssh 2.3's
/// status lines and -o/-e files (rsync's output).
int run_rsync(const Arguments& a, pssh::ClientOptions options, const std::vector<std::string>& hosts,
              const std::vector<pssh::HostConfig>& config, Console& console, Interrupts& interrupts);

}  // namespace cli
