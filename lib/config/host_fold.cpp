// Folding host names into ranges: the inverse of expand_hosts.
//
// Each name is a template (its text between digit runs) and a tuple of
// numeric fields. A group of names is the product of one set of values per
// field; two groups that agree on the template and on every field but one
// are one group with the union of that field, and their product is exactly
// the names of both. Merging like this until nothing changes folds along
// any number of fields, and never adds or drops a name.
#include <pssh/hosts.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

namespace pssh {
namespace {

/// Longer digit runs are not fields: expand_hosts reads bounds as int.
constexpr std::size_t max_field_digits = 9;

/// A field's value as written ("007"), ordered by number, then width.
struct Value {
  long number = 0;
  std::string text;
  auto operator<=>(const Value& other) const {
    return std::tie(number, text) <=> std::tie(other.number, other.text);
  }
  bool operator==(const Value&) const = default;
};

struct Group {
  std::vector<std::string> literals;     ///< one more than fields
  std::vector<std::set<Value>> fields;
};

Group split(const std::string& host) {
  Group group;
  std::string literal;
  if (host.find_first_of("[],") != std::string::npos) {
    group.literals.push_back(host);
    return group;
  }
  for (std::size_t i = 0; i < host.size();) {
    if (!std::isdigit(static_cast<unsigned char>(host[i]))) {
      literal += host[i++];
      continue;
    }
    std::size_t end = std::min(host.find_first_not_of("0123456789", i), host.size());
    std::string digits = host.substr(i, end - i);
    i = end;
    if (digits.size() > max_field_digits) {
      literal += digits;
      continue;
    }
    group.literals.push_back(std::move(literal));
    literal.clear();
    group.fields.push_back({Value{std::stol(digits), std::move(digits)}});
  }
  group.literals.push_back(std::move(literal));
  return group;
}

/// "001-003,7": runs of consecutive numbers that expand_hosts writes back
/// exactly as given (a run's first bound sets its zero padding).
std::string render(const std::set<Value>& values) {
  struct Run {
    std::size_t width;
    const Value* first;
    const Value* last;
  };
  std::vector<Run> runs;
  for (const Value& v : values) {
    auto fits = [&](const Run& run) {
      if (run.last->number != v.number - 1) return false;
      std::string padded = std::to_string(v.number);
      if (padded.size() < run.width) padded.insert(0, run.width - padded.size(), '0');
      return padded == v.text;
    };
    auto run = std::find_if(runs.begin(), runs.end(), fits);
    if (run != runs.end()) {
      run->last = &v;
    } else {
      std::size_t width = v.text.size() > 1 && v.text[0] == '0' ? v.text.size() : 0;
      runs.push_back({width, &v, &v});
    }
  }
  std::string text;
  for (const Run& run : runs) {
    if (!text.empty()) text += ',';
    text += run.first->text;
    if (run.last != run.first) text += '-' + run.last->text;
  }
  return values.size() == 1 ? text : '[' + text + ']';
}

/// A group's name with field `skip` left out: groups sharing it may merge there.
std::string key_without(const Group& group, std::size_t skip) {
  std::string key;
  for (std::size_t i = 0; i < group.literals.size(); ++i) {
    key += group.literals[i];
    key += '\0';
    if (i < group.fields.size()) key += i == skip ? std::string("*") : render(group.fields[i]);
    key += '\0';
  }
  return key;
}

std::string render(const Group& group) {
  std::string text;
  for (std::size_t i = 0; i < group.literals.size(); ++i) {
    text += group.literals[i];
    if (i < group.fields.size()) text += render(group.fields[i]);
  }
  return text;
}

}  // namespace

std::string fold_hosts(const std::vector<std::string>& hosts) {
  std::vector<Group> groups;
  for (const std::string& host : std::set<std::string>(hosts.begin(), hosts.end()))
    groups.push_back(split(host));
  for (bool merged = true; merged;) {
    merged = false;
    std::size_t most_fields = 0;
    for (const Group& g : groups) most_fields = std::max(most_fields, g.fields.size());
    for (std::size_t field = most_fields; field-- > 0;) {
      std::map<std::string, Group> by_key;
      for (Group& g : groups) {
        if (field >= g.fields.size()) {
          by_key.emplace(key_without(g, field), std::move(g));
          continue;
        }
        auto [slot, fresh] = by_key.try_emplace(key_without(g, field), g);
        if (!fresh) {
          slot->second.fields[field].insert(g.fields[field].begin(), g.fields[field].end());
          merged = true;
        }
      }
      groups.clear();
      for (auto& [key, g] : by_key) groups.push_back(std::move(g));
    }
  }
  std::vector<std::string> names;
  for (const Group& g : groups) names.push_back(render(g));
  std::sort(names.begin(), names.end());
  std::string folded;
  for (const std::string& name : names) folded += (folded.empty() ? "" : ",") + name;
  return folded;
}

}  // namespace pssh
