#pragma once
// Reading the files of a dataset plugin: the folder checked, each file found raw or gzipped
// and read whole, with one-line InputError messages that name the file. The kernel implements
// them (with zlib), so a plugin needs no library of its own to read gzipped data.
#include <cstdint>
#include <functional>
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

/// The first `bytes` bytes of a file (fewer when it is shorter), gunzipped when it is gzip:
/// the header of a data file, read without the rest. Errors as read_file.
NARROW_API std::vector<std::uint8_t> read_head(const std::string& path, std::size_t bytes);

/// How many bytes read_file would return, without keeping them. For a raw file, its size. For
/// gzip data, the size its trailer records is taken when `plausible(size)` says it is what the
/// header announced (it is the size modulo 2^32, and only the last member's of a file of
/// several); otherwise, or without `plausible`, the data are inflated and counted, so that a
/// damaged or truncated file throws the InputError read_file would.
NARROW_API std::uint64_t data_size(const std::string& path,
                                   const std::function<bool(std::uint64_t)>& plausible = {});

}  // namespace narrow::datasets
