// pssh-docs: writes each command's man page and bash completion from the
// option table the commands parse with, so that neither can drift from it.
//
//   pssh-docs man TOOL NAME OUTPUT          (TOOL: ssh, scp, slurp, rsync, nuke)
//   pssh-docs completion TOOL NAME OUTPUT
#include "arguments.hpp"

#include <fstream>
#include <iostream>
#include <string>

namespace {

using cli::Tool;

/// Text for roff: a leading '.' or '\'' and every '\' and '-' escaped.
std::string roff(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string_view description(Tool tool) {
  switch (tool) {
    case Tool::scp:
      return "copies local files to every host at once, as scp does: one source into the remote target if it "
             "is an existing directory, else to that name; several sources into the target directory, made if "
             "missing; a directory with -r.";
    case Tool::slurp:
      return "copies a remote file (a tree with -r) from every host at once, to LOCALDIR/HOST/LOCAL (LOCALDIR "
             "is -L, else the current directory).";
    case Tool::rsync:
      return "copies local files to every host at once with rsync, over pssh's own connections: rsync runs "
             "here and on each host (rsync --server), its remote shell being pssh itself.";
    case Tool::nuke:
      return "kills the processes named PATTERN on every host at once (pkill -9 PATTERN).";
    case Tool::ssh:
      break;
  }
  return "runs a command on many hosts at once and prints a status line for each as it finishes.";
}

/// Where pssh departs from pssh 2.3 on purpose; the cli-diff suite asserts each.
constexpr const char* differences[] = {
    "A host that fails for another reason than its command's exit status is shown with the reason "
    "(cannot connect to ..., Killed by signal KILL, cannot create directory ...) where pssh 2.3 shows ssh's, "
    "scp's or rsync's \"Exited with error code 255\" (or 1): the reason is what the user needs. The exit status is "
    "the same.",
    "-P prefixes every line with its host; pssh 2.3 prefixes what one read returned, so lines that arrive "
    "together show the host once and the output depends on timing.",
    "-i ends output that lacks a last newline with one, so the next status line starts its own line.",
    "pscp refuses a local directory without -r before connecting (status 1), where pssh 2.3 lets every host's "
    "scp fail (status 4): nothing is half done.",
    "pslurp names each host's folder HOST (HOST:PORT when the entry gave a port); pssh 2.3.4 writes "
    "HOST:None, a slip of its port formatting.",
    "A timeout is reported as \"Timed out\"; pssh 2.3 adds \", Killed by signal 9\" when its poll happens to "
    "see the ssh it killed die.",
    "-A asks for the password on the terminal, or runs the program SSH_ASKPASS names when there is none (or "
    "with SSH_ASKPASS_REQUIRE=force); the password is the login's and, with --sudo, sudo's.",
    "-x and -X take ssh's (scp's) options and apply them to the library's connections; an option that has no "
    "meaning without the ssh program (-L, a forwarding) is a usage error rather than ignored, and so is -O "
    "with a keyword that pssh reads only from an ssh config file (Ciphers, KexAlgorithms): the error says so.",
    "-t takes decimal seconds (0.5); pssh 2.3 takes whole seconds.",
    "-t bounds the connection, then the command, each; pssh 2.3 counts one deadline from ssh's start. For "
    "pscp and pslurp it bounds the connection and each step of a copy: a stalled copy ends, a slow one that "
    "moves goes on.",
    "-P also prints stderr lines, as \"host: line\" on stderr; pssh 2.3 prints stdout only.",
    "-l and --port beat a User or Port given with -O or -x, where ssh keeps the first value it is given.",
    "-I keeps its input once per host until that host took it; pssh 2.3 keeps one copy.",
    "pscp with several sources copies them one after another to every host; a host that failed one is tried "
    "again for the next, where pssh 2.3's scp gives up on the host at once.",
    "prsync runs rsync with pssh itself as its remote shell, on pssh's connections: -S takes ssh's options as "
    "pssh's -x does (what has no meaning without the ssh program is refused), and a -x or -X that gives rsync "
    "another remote shell (-e, --rsh) is a usage error. A line rsync refuses (an unknown option) is refused "
    "once, before any host, with rsync's message (status 1); pssh 2.3 lets every host's rsync fail (status 4).",
    "Ctrl-C cancels every host, which reports \"Interrupted\"; the report and --failed are still written. A "
    "second one ends pssh at once.",
};

std::string man_page(Tool tool, const std::string& name) {
  std::string page = ".TH " + roff(name) + " 1 \"\" \"pssh 0.2.0\" \"User Commands\"\n";
  page += ".SH NAME\n" + roff(name) + " \\- " + roff(std::string(description(tool)).substr(0, std::string(description(tool)).find(':'))) + "\n";
  page += ".SH SYNOPSIS\n.B " + roff(name) + "\n" + roff(std::string(cli::usage_line(tool))) + "\n";
  page += ".SH DESCRIPTION\n.B " + roff(name) + "\n" + roff(std::string(description(tool))) +
          "\nIt takes pssh 2.3's options with their meanings, on the pssh library's own SSH connections: the "
          "ssh config (~/.ssh/config, then /etc/ssh/ssh_config), known hosts and ProxyJump apply; no ssh "
          "program runs.\n";
  page += ".SH OPTIONS\n";
  for (const cli::OptionDoc& option : cli::option_docs(tool)) {
    std::string spelling = option.letter + (option.letter.empty() || option.name.empty() ? "" : ", ") + option.name;
    page += ".TP\n.B " + roff(spelling) + (option.value.empty() ? "" : " \\fI" + roff(option.value) + "\\fR") + "\n" +
            roff(option.help) + "\n";
  }
  page += ".SH ENVIRONMENT\nEach gives its option before the command line, which beats it; a flag's variable is on "
          "when it is not empty, as in pssh 2.3.\n";
  for (const cli::OptionDoc& option : cli::option_docs(tool)) {
    if (option.variable.empty()) continue;
    page += ".TP\n.B " + roff(option.variable) + "\n" + roff(option.letter.empty() ? option.name : option.letter) + "\n";
  }
  page += ".SH EXIT STATUS\n" + roff(std::string(cli::exit_status_text(tool))) + "\n";
  page += ".SH DIFFERENCES FROM PSSH 2.3\n";
  for (const char* difference : differences) page += ".IP \\(bu 2\n" + roff(difference) + "\n";
  page += ".SH SEE ALSO\n.BR pssh (1),\n.BR pscp (1),\n.BR pslurp (1),\n.BR prsync (1),\n.BR pnuke (1),\n.BR ssh_config (5)\n";
  return page;
}

std::string completion(Tool tool, const std::string& name) {
  // A value named ...DIR completes directories, ...FILE files; any other
  // value (a user, a number, a pattern) completes nothing.
  std::string words, with_file, with_dir, with_other;
  auto add = [](std::string& list, const std::string& spelling) { list += (list.empty() ? "" : "|") + spelling; };
  for (const cli::OptionDoc& option : cli::option_docs(tool)) {
    for (const std::string& spelling : {option.letter, option.name}) {
      if (spelling.empty()) continue;
      words += (words.empty() ? "" : " ") + spelling;
      if (option.value.empty()) continue;
      if (option.value.find("DIR") != std::string::npos) add(with_dir, spelling);
      else if (option.value.find("FILE") != std::string::npos) add(with_file, spelling);
      else add(with_other, spelling);
    }
  }
  std::string function = "_pssh_" + std::string(cli::tool_name(tool));
  return "# bash completion for " + name + ", made from its option table by pssh-docs\n" + function + "() {\n" +
         "  local cur prev\n  _init_completion || return\n  case $prev in\n" +
         "    " + with_dir + ") _filedir -d; return ;;\n" +
         "    " + with_file + ") _filedir; return ;;\n" +
         "    " + with_other + ") return ;;\n  esac\n" +
         "  if [[ $cur == -* ]]; then\n    COMPREPLY=($(compgen -W '" + words + "' -- \"$cur\"))\n" +
         "  else\n    _filedir\n  fi\n}\ncomplete -F " + function + " " + name + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: pssh-docs man|completion ssh|scp|slurp|rsync|nuke NAME OUTPUT\n";
    return 2;
  }
  std::string kind = argv[1], tool_word = argv[2], name = argv[3];
  Tool tool = cli::tool_named("p" + tool_word);
  std::ofstream out(argv[4]);
  out << (kind == "man" ? man_page(tool, name) : completion(tool, name));
  return out ? 0 : 1;
}
