#include "unified_diff.hpp"

#include <algorithm>
#include <vector>

namespace cli {
namespace {

/// Lines with their '\n' (the last may lack it): a last line without one
/// differs from the same line with one, as diff sees it.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

enum class Edit { keep, remove, add };

/// Past this many differing lines a whole replacement is shown: Myers'
/// trace grows with the square of the difference.
constexpr int most_edits = 2000;

/// A shortest edit script from `a` to `b` (Myers' algorithm).
std::vector<Edit> edit_script(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size()), offset = n + m + 1;
  std::vector<int> furthest(2 * offset + 1, 0);  // furthest x on each diagonal k = x - y
  std::vector<std::vector<int>> trace;           // furthest[-d..d] after each step d
  int edits = -1;
  for (int d = 0; d <= n + m && edits < 0; ++d) {
    if (d > most_edits) {
      std::vector<Edit> replace(a.size(), Edit::remove);
      replace.insert(replace.end(), b.size(), Edit::add);
      return replace;
    }
    for (int k = -d; k <= d; k += 2) {
      bool down = k == -d || (k != d && furthest[offset + k - 1] < furthest[offset + k + 1]);
      int x = down ? furthest[offset + k + 1] : furthest[offset + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      furthest[offset + k] = x;
      if (x >= n && y >= m) {
        edits = d;
        break;
      }
    }
    trace.emplace_back(furthest.begin() + offset - d, furthest.begin() + offset + d + 1);
  }
  std::vector<Edit> script;
  int x = n, y = m;
  for (int d = edits; d > 0; --d) {
    const std::vector<int>& before = trace[d - 1];
    auto at = [&](int k) { return before[k + d - 1]; };
    int k = x - y;
    bool down = k == -d || (k != d && at(k - 1) < at(k + 1));
    int start_x = down ? at(k + 1) : at(k - 1) + 1;  // where this step's snake began
    for (; x > start_x; --x, --y) script.push_back(Edit::keep);
    if (down) {
      script.push_back(Edit::add);
      --y;
    } else {
      script.push_back(Edit::remove);
      --x;
    }
  }
  for (; x > 0; --x) script.push_back(Edit::keep);
  std::reverse(script.begin(), script.end());
  return script;
}

/// "3,4" as a hunk header gives a range; "3" for one line; "2,0" for none
/// (the line before).
std::string range(std::size_t first, std::size_t count) {
  if (count == 1) return std::to_string(first + 1);
  return std::to_string(count == 0 ? first : first + 1) + "," + std::to_string(count);
}

void add_line(std::string& out, char mark, std::string_view line) {
  out += mark;
  out += line;
  if (!line.ends_with('\n')) out += '\n';
}

}  // namespace

std::string unified_diff(std::string_view from_label, std::string_view to_label, std::string_view from,
                         std::string_view to, std::size_t context) {
  std::vector<std::string_view> a = lines_of(from), b = lines_of(to);
  std::vector<Edit> script = edit_script(a, b);
  std::vector<std::size_t> changes;
  for (std::size_t i = 0; i < script.size(); ++i)
    if (script[i] != Edit::keep) changes.push_back(i);
  if (changes.empty()) return {};

  std::string out = "--- " + std::string(from_label) + "\n+++ " + std::string(to_label) + "\n";
  // Line numbers in a and b where each script entry stands.
  std::vector<std::size_t> a_at(script.size() + 1), b_at(script.size() + 1);
  for (std::size_t i = 0; i < script.size(); ++i) {
    a_at[i + 1] = a_at[i] + (script[i] != Edit::add);
    b_at[i + 1] = b_at[i] + (script[i] != Edit::remove);
  }
  for (std::size_t c = 0; c < changes.size();) {
    // A hunk: changes whose gaps of kept lines are at most 2 x context, with context around.
    std::size_t last = c;
    while (last + 1 < changes.size() && changes[last + 1] - changes[last] <= 2 * context + 1) ++last;
    std::size_t begin = changes[c] > context ? changes[c] - context : 0;
    std::size_t end = std::min(script.size(), changes[last] + context + 1);
    out += "@@ -" + range(a_at[begin], a_at[end] - a_at[begin]) + " +" + range(b_at[begin], b_at[end] - b_at[begin]) +
           " @@\n";
    for (std::size_t i = begin; i < end; ++i) {
      switch (script[i]) {
        case Edit::keep: add_line(out, ' ', a[a_at[i]]); break;
        case Edit::remove: add_line(out, '-', a[a_at[i]]); break;
        case Edit::add: add_line(out, '+', b[b_at[i]]); break;
      }
    }
    c = last + 1;
  }
  return out;
}

}  // namespace cli
