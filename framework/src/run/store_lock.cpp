#include "run/store_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/utc_time.hpp"
#include "narrow/errors.hpp"

namespace narrow {

namespace {

std::string reason(int err) { return std::generic_category().message(err); }

// The whole file, read through `fd` from its start.
std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, at);
    if (n <= 0) break;
    text.append(buffer, std::size_t(n));
    at += n;
  }
  return text;
}

// "process P on host H since T (COMMAND)" from the lock file's line.
std::string describe_owner(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pid"))
    return "another process (it is starting and has not written its name yet)";
  auto field = [&](const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) return std::string("?");
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  return fmt::format("process {} on host {} since {} ({})", field("pid"), field("host"),
                     field("since"), field("command"));
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

StoreLock::StoreLock(const std::string& store_path, const std::string& command)
    : path_(store_path + ".lock") {
  for (int attempt = 0; fd_ < 0; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int err = errno;
      throw InputError(fmt::format("cannot lock results store {}: cannot create {}: {}",
                                   store_path, path_, reason(err)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string owner = read_all(fd);
      ::close(fd);
      if (err == EWOULDBLOCK)
        throw InputError(fmt::format(
            "results store {} is in use by {}; wait for it to finish, or stop it and continue "
            "the run with --resume",
            store_path, describe_owner(owner)));
      throw Error(fmt::format("cannot lock results store {} ({}): {}", store_path, path_,
                              reason(err)));
    }
    // The owner removes the file when it lets go: a lock taken on a file that was removed
    // between open() and flock() guards nothing. Keep it only if it is still the file there.
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      fd_ = fd;
      break;
    }
    ::close(fd);
    if (attempt == 100)
      throw Error(fmt::format("cannot lock results store {}: {} keeps being replaced",
                              store_path, path_));
  }

  // A file with a line in it is what an owner that ended without letting go left.
  if (const std::string before = read_all(fd_); !before.empty())
    previous_owner_ = describe_owner(before);
  const std::string line = nlohmann::json{{"pid", std::int64_t(::getpid())},
                                          {"host", host_name()},
                                          {"since", utc_now(utc_iso_format)},
                                          {"command", command}}
                               .dump() +
                           "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, line.data(), line.size(), 0) != ssize_t(line.size())) {
    const int err = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    throw Error(fmt::format("cannot write {}: {}", path_, reason(err)));
  }
}

StoreLock::~StoreLock() {
  // Removed while still locked: a process waiting on this file finds it gone and starts again.
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace narrow
