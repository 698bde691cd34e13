#pragma once
// Output files that are never seen half-written: the content goes to a temporary file in the
// same folder, which is flushed, checked, synced to disk and only then renamed over the final
// name (and the folder synced). A crash, a kill, a full disk or an exception while writing
// leaves the previous file (or no file) under the final name, never a truncated one.
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "narrow/export.hpp"

namespace narrow {

/// One output file being written. The constructor creates the temporary file (so a folder
/// that does not exist or cannot be written fails at once, before any work); `stream()` is
/// where the content goes; `commit()` puts the file in place. Destroyed without a successful
/// commit(), it removes the temporary file and the final name is left as it was.
///
/// Errors name the file and the operating system's reason: a path that cannot be written
/// (missing or read-only folder, no permission, a folder in the way) is an InputError (exit
/// code 2); a failure while writing or syncing (disk full, I/O error) is an Error (exit 1).
/// A file that replaces an existing one keeps that file's permission bits. The temporary
/// file is named PATH.<pid>-<n>.partial; only a process killed while writing leaves one.
class NARROW_API OutputFile {
 public:
  /// `what` names the file in messages: "CSV file", "calibration file"...
  explicit OutputFile(std::string path, std::string what = "output file");
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// The stream to write the content to (binary: no newline translation).
  std::ostream& stream();
  /// Flushes and closes the stream, checks it, syncs the file, renames it to `path()` and
  /// syncs the folder. Throws on any failure, after removing the temporary file.
  void commit();

  const std::string& path() const noexcept;
  /// The temporary file's name, in the same folder as path(); empty after commit().
  const std::string& temporary_path() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Writes `content` to `path` through an OutputFile.
NARROW_API void write_output_file(const std::string& path, std::string_view content,
                                  const std::string& what = "output file");

/// Calls `write` with the stream of an OutputFile for `path`, then commits it. If `write`
/// throws, the temporary file is removed, `path` is untouched and the exception propagates.
NARROW_API void write_output_file(const std::string& path,
                                  const std::function<void(std::ostream&)>& write,
                                  const std::string& what = "output file");

/// For files that a library writes by name (an SQLite database, torch::save to a path): calls
/// `write` with a temporary path in the same folder as `path` for it to create the file and
/// close it, then syncs that file, renames it to `path` and syncs the folder. If `write`
/// throws or any step fails, the temporary file is removed and `path` is untouched.
NARROW_API void write_output_file_by_name(
    const std::string& path, const std::function<void(const std::string& temporary)>& write,
    const std::string& what = "output file");

}  // namespace narrow
