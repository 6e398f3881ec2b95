// The opt-in host logger: "[host]\tline" for each line the caller reads,
// and each line join(consume_output) discards.
#pragma once

#include <string_view>

namespace pssh::detail {

void log_host_line(std::string_view host, std::string_view line);
/// The logger is on: output nobody reads (join's consume_output) is logged.
bool host_logger_enabled();

}  // namespace pssh::detail
