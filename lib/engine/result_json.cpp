// Results as JSON: a host's output and a run's.
#include "text/encoding.hpp"

#include <pssh/errors.hpp>
#include <pssh/json.hpp>

namespace pssh {
namespace {

using nlohmann::json;
using detail::valid_utf8;

std::string text_of(LineRange lines) {
  std::string text;
  for (const std::string& line : lines) text += line + '\n';
  return valid_utf8(text);
}

}  // namespace

json to_json(const HostOutput& output) {
  json j{{"host", output.host()},
         {"alias", output.alias()},
         {"index", output.index()},
         {"exit_code", nullptr},
         {"signal", nullptr},
         {"stdout", text_of(output.stdout_lines())},
         {"stderr", text_of(output.stderr_lines())},
         {"error_type", nullptr},
         {"error", nullptr}};
  if (auto code = output.exit_code()) j["exit_code"] = *code;
  if (auto signal = output.exit_signal()) j["signal"] = *signal;
  if (auto error = output.exception()) {
    j["error_type"] = error_kind_name(error_kind(error));
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      j["error"] = valid_utf8(e.what());
    } catch (...) {
      j["error"] = "unknown error";
    }
  }
  return j;
}

json to_json(const Output& output) {
  json all = json::array();
  for (const HostOutput& h : output) all.push_back(to_json(h));
  return all;
}

}  // namespace pssh
