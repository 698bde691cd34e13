#include "narrow/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow {

namespace fs = std::filesystem;

namespace {

// Reasons that are the user's to fix (the path), as opposed to the machine failing.
bool is_path_error(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case ENOENT:
    case ENOTDIR:
    case EROFS:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
      return true;
    default:
      return false;
  }
}

std::string reason(int err) {
  return err ? std::generic_category().message(err) : std::string("the stream failed");
}

// Temporary names of one process never repeat: the pid and a counter.
std::atomic<unsigned> temporary_counter{0};

[[noreturn]] void throw_os_error(const std::string& message, int err) {
  if (is_path_error(err)) throw InputError(fmt::format("{}: {}", message, reason(err)));
  throw Error(fmt::format("{}: {}", message, reason(err)));
}

// Checks the final name and returns its folder.
fs::path folder_of(const std::string& path, const std::string& what) {
  if (path.empty()) throw InputError(fmt::format("the {} needs a file name", what));
  const fs::path target(path);
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code ec;
  if (fs::is_directory(target, ec))
    throw InputError(fmt::format("cannot write {} '{}': it is a folder", what, path));
  if (!fs::is_directory(folder, ec))
    throw InputError(fmt::format("cannot write {} '{}': folder '{}' does not exist", what, path,
                                 folder.string()));
  return folder;
}

// Creates a temporary file beside `path` that no other writer uses (O_EXCL), with the usual
// permissions (0666 less the umask), or those of the file it will replace. Returns its
// descriptor and sets `temporary` to its name.
int create_temporary(const std::string& path, const fs::path& folder, const std::string& what,
                     std::string& temporary) {
  const std::string name = fs::path(path).filename().string();
  for (int attempt = 0;; ++attempt) {
    temporary =
        (folder / fmt::format("{}.{}-{}.partial", name, ::getpid(), temporary_counter++)).string();
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      struct stat old {};
      if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode))
        (void)::fchmod(fd, old.st_mode & 07777);
      return fd;
    }
    const int err = errno;
    if (err == EEXIST && attempt < 100) continue;  // left behind by a process of the same pid
    temporary.clear();
    throw_os_error(fmt::format("cannot write {} '{}'", what, path), err);
  }
}

// Syncs the complete temporary file (and closes `fd`), renames it to `path` and syncs the
// folder. Throws on failure; the caller removes the temporary file then.
void put_in_place(int fd, const std::string& temporary, const std::string& path,
                  const fs::path& folder, const std::string& what) {
  const int synced = ::fsync(fd);
  const int sync_err = errno;
  const int closed = ::close(fd);
  const int close_err = errno;
  if (synced != 0) throw_os_error(fmt::format("syncing {} '{}' failed", what, path), sync_err);
  if (closed != 0) throw_os_error(fmt::format("closing {} '{}' failed", what, path), close_err);
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    throw_os_error(fmt::format("cannot put {} '{}' in place", what, path), errno);

  // The rename lasts across a power loss only once the folder is synced. Some file systems
  // cannot sync a folder (EINVAL); a folder we may write but not read cannot be opened.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  const int dir_synced = ::fsync(dir);
  const int err = errno;
  ::close(dir);
  if (dir_synced != 0 && err != EINVAL && err != ENOTSUP)
    throw Error(
        fmt::format("syncing the folder of {} '{}' failed: {}", what, path, reason(err)));
}

}  // namespace

struct OutputFile::State {
  std::string path, what, temporary;
  fs::path folder;
  int fd = -1;  // the temporary file, held open to sync it
  std::ofstream out;
  bool committed = false;

  // Closes everything and removes the temporary file; never throws.
  void discard() noexcept {
    if (out.is_open()) out.close();
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (!temporary.empty()) ::unlink(temporary.c_str());
    temporary.clear();
  }

  // Throws "writing WHAT 'PATH' failed: <reason>" after discarding the temporary file.
  [[noreturn]] void fail_writing(int err) {
    discard();
    throw_os_error(fmt::format("writing {} '{}' failed", what, path), err);
  }
};

OutputFile::OutputFile(std::string path, std::string what) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = std::move(path);
  s.what = std::move(what);
  s.folder = folder_of(s.path, s.what);
  s.fd = create_temporary(s.path, s.folder, s.what, s.temporary);
  s.out.open(s.temporary, std::ios::binary | std::ios::trunc);
  if (!s.out) s.fail_writing(errno);
}

OutputFile::~OutputFile() {
  if (state_ && !state_->committed) state_->discard();
}

std::ostream& OutputFile::stream() { return state_->out; }

const std::string& OutputFile::path() const noexcept { return state_->path; }

const std::string& OutputFile::temporary_path() const noexcept { return state_->temporary; }

void OutputFile::commit() {
  State& s = *state_;
  if (s.committed) return;
  if (s.temporary.empty())
    throw Error(fmt::format("writing {} '{}' failed earlier", s.what, s.path));
  // The stream keeps errno of the write that failed when it is the last system call made.
  errno = 0;
  if (!s.out.flush()) s.fail_writing(errno);
  errno = 0;
  s.out.close();
  if (s.out.fail()) s.fail_writing(errno);
  const int fd = s.fd;
  s.fd = -1;
  try {
    put_in_place(fd, s.temporary, s.path, s.folder, s.what);
  } catch (...) {
    s.discard();
    throw;
  }
  s.temporary.clear();
  s.committed = true;
}

void write_output_file(const std::string& path, std::string_view content,
                       const std::string& what) {
  OutputFile file(path, what);
  file.stream().write(content.data(), std::streamsize(content.size()));
  file.commit();
}

void write_output_file(const std::string& path, const std::function<void(std::ostream&)>& write,
                       const std::string& what) {
  OutputFile file(path, what);
  write(file.stream());
  file.commit();
}

void write_output_file_by_name(const std::string& path,
                               const std::function<void(const std::string& temporary)>& write,
                               const std::string& what) {
  const fs::path folder = folder_of(path, what);
  std::string temporary;
  ::close(create_temporary(path, folder, what, temporary));
  try {
    write(temporary);
    const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_os_error(fmt::format("cannot read back {} '{}'", what, temporary), errno);
    put_in_place(fd, temporary, path, folder, what);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

}  // namespace narrow
