// pssh::Error.
#include <pssh/errors.hpp>

namespace pssh {

Error::Error(std::string host, const std::string& message)
    : std::runtime_error(message), host_(std::move(host)) {}

}  // namespace pssh
