/// \file
/// The whole public pssh API (all but pssh/json.hpp, which needs nlohmann_json).
#pragma once

#include <pssh/agent.hpp>
#include <pssh/call.hpp>
#include <pssh/client.hpp>
#include <pssh/env.hpp>
#include <pssh/errors.hpp>
#include <pssh/event.hpp>
#include <pssh/hosts.hpp>
#include <pssh/options.hpp>
#include <pssh/output.hpp>
#include <pssh/shell.hpp>
#include <pssh/transfer.hpp>

/// \namespace pssh
/// Everything pssh offers. Entry points: ParallelClient (many hosts) and
/// Client (one), set up by ClientOptions and HostConfig; call(), copy() and
/// slurp() for a sequential program; expand_hosts() and read_hosts_file()
/// for host lists; every error a host reports derives from Error.
