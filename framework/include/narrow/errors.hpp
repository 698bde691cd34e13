#pragma once
#include <stdexcept>
#include <string>

#include "narrow/export.hpp"

namespace narrow {

/// Where in a file something is; line and column start at 1, 0 means unknown.
struct NARROW_API SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  bool empty() const { return file.empty() && line == 0; }
  std::string to_string() const;  // "FILE:LINE:COLUMN" with the parts that are known
};

/// Base of every exception narrow throws on purpose. `exit_code()` is what the command line
/// returns when it catches one: 1 means the work failed, 2 means bad usage or bad input.
class NARROW_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
  virtual int exit_code() const noexcept { return 1; }
};

/// Bad input from a user: a file, an option, a parameter, a graph. Exit code 2.
/// `what()` gives "FILE:LINE:COLUMN: error: message" when a location is known.
class NARROW_API InputError : public Error {
 public:
  explicit InputError(const std::string& message, SourceLocation where = {});
  ~InputError() override;
  int exit_code() const noexcept override { return 2; }
  const std::string& message() const noexcept { return message_; }
  const SourceLocation& where() const noexcept { return where_; }

 private:
  std::string message_;
  SourceLocation where_;
};

/// A bad value of one named plugin parameter, found by a check beyond its schema (a
/// constructor, Strategy::check): the experiment loader reports it at the value's
/// FILE:LINE:COLUMN. `message()` says what is wrong and what is allowed.
class NARROW_API ParameterError : public InputError {
 public:
  ParameterError(std::string parameter, const std::string& message);
  ~ParameterError() override;
  const std::string& parameter() const noexcept { return parameter_; }

 private:
  std::string parameter_;
};

/// An architecture that is not a valid network (shapes that do not fit, a cycle, an unknown
/// input). Thrown by shape inference; a sampler counts these as rejected draws.
class NARROW_API InvalidArchitecture : public InputError {
 public:
  explicit InvalidArchitecture(const std::string& message);
  ~InvalidArchitecture() override;
};

/// A plugin library that cannot be used (no entry point, wrong API or ABI, registration that
/// failed, a duplicate name). The message names the library.
class NARROW_API PluginError : public Error {
 public:
  explicit PluginError(const std::string& message);
  ~PluginError() override;
};

}  // namespace narrow
