// The whole public pssh API.
#pragma once

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
