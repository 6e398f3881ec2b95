// Unified diffs of two texts by lines, as diff -u writes them: for --diff,
// which shows each host's output against the most common one (clush's).
#pragma once

#include <string>
#include <string_view>

namespace cli {

/// `from` and `to` as a unified diff: "--- FROM_LABEL" and "+++ TO_LABEL",
/// then hunks of changed lines with `context` unchanged lines around them;
/// empty when the texts are equal. Lines are compared with their newline;
/// a last line without one is printed with one (the results' texts, which
/// --diff compares, end every line).
std::string unified_diff(std::string_view from_label, std::string_view to_label, std::string_view from,
                         std::string_view to, std::size_t context = 3);

}  // namespace cli
