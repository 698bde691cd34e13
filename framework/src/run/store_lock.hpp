#pragma once
// Internal: the right of one process to write a results store, for as long as it runs.
#include <string>

#include "narrow/export.hpp"

namespace narrow {

/// An exclusive advisory lock (flock) on STORE.lock beside the store, held while the object
/// lives. The lock file says who holds it: {"pid", "host", "since" (UTC ISO 8601), "command"}
/// as one JSON line. The kernel releases the lock when its process ends in any way (a crash,
/// kill -9), so a store whose owner died is taken over without cleaning up by hand; the
/// owner removes the file when it lets go.
class NARROW_API StoreLock {
 public:
  /// Takes the lock of the store at `store_path` for `command` ("narrow run", ...). A store
  /// in use by another process is an InputError (exit code 2) naming that process, its host
  /// and since when. When the file shows an owner that died, `previous_owner()` describes it.
  StoreLock(const std::string& store_path, const std::string& command);
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  const std::string& path() const noexcept { return path_; }
  /// "process P on host H since T (COMMAND)" of an owner that ended without letting go;
  /// empty when there was none.
  const std::string& previous_owner() const noexcept { return previous_owner_; }

 private:
  std::string path_;
  std::string previous_owner_;
  int fd_ = -1;
};

}  // namespace narrow
