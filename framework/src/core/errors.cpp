#include "narrow/errors.hpp"

#include <fmt/format.h>

namespace narrow {

std::string SourceLocation::to_string() const {
  const std::string& f = file.empty() ? std::string("<input>") : file;
  if (line <= 0) return f;
  if (column <= 0) return fmt::format("{}:{}", f, line);
  return fmt::format("{}:{}:{}", f, line, column);
}

Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;

namespace {
std::string located(const std::string& message, const SourceLocation& where) {
  if (where.empty()) return message;
  return fmt::format("{}: error: {}", where.to_string(), message);
}
}  // namespace

InputError::InputError(const std::string& message, SourceLocation where)
    : Error(located(message, where)), message_(message), where_(std::move(where)) {}
InputError::~InputError() = default;

ParameterError::ParameterError(std::string parameter, const std::string& message)
    : InputError(fmt::format("parameter '{}': {}", parameter, message)),
      parameter_(std::move(parameter)) {}
ParameterError::~ParameterError() = default;

InvalidArchitecture::InvalidArchitecture(const std::string& message) : InputError(message) {}
InvalidArchitecture::~InvalidArchitecture() = default;

PluginError::PluginError(const std::string& message) : Error(message) {}
PluginError::~PluginError() = default;

}  // namespace narrow
