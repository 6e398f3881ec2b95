// docs_cli_lines: gives each pssh-family command line of the docs to the
// commands' own parser (cli::parse_arguments, what main() calls first), and
// runs nothing: no host is contacted, no file is written.
//
//   docs_cli_lines RECORDS
//
// RECORDS has one line per command: LOCATION, the program's name, then its
// arguments, separated by tabs (tests/docs/check_blocks.py writes it). Run in
// a scratch directory: a file an option reads (-h, --inventory, -F, ...)
// that is missing is made there first, an absolute path's under its base
// name. Prints "LOCATION: error" for each line the parser refuses; exits 1
// if any.
#include "arguments.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, separator);) fields.push_back(field);
  return fields;
}

/// What a file read by `option` holds when the docs' file does not exist.
std::string stand_in(const std::string& option) {
  // Hosts enough for every shard of the docs' recipes (--shard I/4).
  if (option == "--inventory") return "{\"hosts\": [\"web[1-8]\"]}\n";
  if (option == "-F" || option == "--ssh-config") return "";
  return "web[1-8]\n";  // a hosts file
}

/// Makes the files that `args` name as values of options whose value is a
/// file, and points absolute paths at the stand-in.
void make_files(cli::Tool tool, std::vector<std::string>& args) {
  std::vector<cli::OptionDoc> docs = cli::option_docs(tool);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string spelling = args[i], value;
    std::size_t value_at = i + 1;
    if (auto equals = spelling.find('='); spelling.starts_with("--") && equals != std::string::npos) {
      value = spelling.substr(equals + 1);
      spelling.resize(equals);
      value_at = i;
    }
    for (const cli::OptionDoc& doc : docs) {
      if (spelling != doc.letter && spelling != doc.name) continue;
      if (doc.value.find("FILE") == std::string::npos && doc.value != "INVENTORY") break;
      if (value_at != i) {
        if (value_at >= args.size()) break;
        value = args[value_at];
      }
      if (value.empty() || value.find_first_of("*?") != std::string::npos) break;
      std::filesystem::path path = value;
      if (path.is_absolute() && !std::filesystem::exists(path)) path = path.filename();
      if (!std::filesystem::exists(path)) {
        if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << stand_in(doc.name.empty() ? doc.letter : doc.name);
      }
      std::string given = path.string();
      if (value_at == i) args[i] = spelling + "=" + given;
      else args[value_at] = given;
      break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: docs_cli_lines RECORDS\n";
    return 2;
  }
  // The PSSH_* variables of whoever runs the test would change what parses.
  for (bool again = true; again;) {
    again = false;
    for (char** variable = environ; *variable != nullptr; ++variable) {
      if (std::strncmp(*variable, "PSSH_", 5) != 0) continue;
      ::unsetenv(std::string(*variable, std::strchr(*variable, '=')).c_str());
      again = true;
      break;
    }
  }
  std::ifstream records(argv[1]);
  int checked = 0, refused = 0;
  for (std::string line; std::getline(records, line);) {
    std::vector<std::string> fields = split(line, '\t');
    if (fields.size() < 2) continue;
    std::string location = fields[0];
    cli::Tool tool = cli::tool_named(fields[1]);
    std::vector<std::string> args(fields.begin() + 2, fields.end());
    ++checked;
    // --help and --version print and exit: nothing to check beyond the option's name.
    bool prints = false;
    for (const std::string& arg : args) prints = prints || arg == "--help" || arg == "--version";
    if (prints) continue;
    try {
      make_files(tool, args);
      cli::parse_arguments(tool, args);
    } catch (const cli::UsageError& e) {
      std::cout << location << ": " << fields[1] << " refuses this command line (status 2): " << e.what() << '\n';
      ++refused;
    } catch (const std::exception& e) {
      std::cout << location << ": " << fields[1] << " cannot start with this command line (status 1): " << e.what()
                << '\n';
      ++refused;
    }
  }
  std::cout << checked << " command line(s) given to the parser, " << refused << " refused\n";
  return refused == 0 ? 0 : 1;
}
