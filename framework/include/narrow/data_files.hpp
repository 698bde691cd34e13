#pragma once
// Reading the files of a dataset plugin: the folder checked, each file found raw or gzipped
// and read whole, with one-line InputError messages that name the file. The kernel implements
// them (with zlib), so a plugin needs no library of its own to read gzipped data.
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/export.hpp"

namespace narrow::datasets {

/// The folder of a dataset: throws InputError when `folder` is empty, does not exist or is not
/// a folder. `what` names the dataset and parameter, e.g. "parameter 'path' of dataset 'idx'".
NARROW_API void check_folder(const std::string& folder, const std::string& what);

/// `folder/base.gz` when it exists, else `folder/base` when it exists; otherwise throws
/// InputError naming both and saying what the folder should hold (`expected`).
NARROW_API std::string find_file(const std::string& folder, const std::string& base,
                                 const std::string& expected);

/// The whole content of a file, gunzipped when it is gzip (raw files are read as they are).
/// Throws InputError naming the file when it cannot be opened or its gzip data is damaged.
NARROW_API std::vector<std::uint8_t> read_file(const std::string& path);

}  // namespace narrow::datasets
