// The opt-in host logger: "[host]\tline" for each line the caller reads.
#pragma once

#include <string_view>

namespace pssh::detail {

void log_host_line(std::string_view host, std::string_view line);

}  // namespace pssh::detail
