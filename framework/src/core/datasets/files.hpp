#pragma once
// Private helpers of the built-in datasets (kernel only, not installed): reading data files
// (gzip or raw) with errors that name the file, and the registration of each dataset.
#include <cstdint>
#include <string>
#include <vector>

namespace narrow {

class Registry;

namespace datasets {

/// The folder of a dataset: throws InputError when `folder` is empty, does not exist or is not
/// a folder. `what` names the dataset and parameter, e.g. "parameter 'path' of dataset 'idx'".
void check_folder(const std::string& folder, const std::string& what);

/// `folder/base.gz` when it exists, else `folder/base` when it exists; otherwise throws
/// InputError naming both and saying what the folder should hold (`expected`).
std::string find_file(const std::string& folder, const std::string& base,
                      const std::string& expected);

/// The whole content of a file, gunzipped when it is gzip (raw files are read as they are).
/// Throws InputError naming the file when it cannot be opened or its gzip data is damaged.
std::vector<std::uint8_t> read_file(const std::string& path);

/// Big-endian 32-bit value at `offset` (the caller checks the size).
inline std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t offset) {
  return std::uint32_t(b[offset]) << 24 | std::uint32_t(b[offset + 1]) << 16 |
         std::uint32_t(b[offset + 2]) << 8 | std::uint32_t(b[offset + 3]);
}

/// The last component of a folder's path ("fashion-mnist" for "/data/fashion-mnist/").
std::string folder_name(const std::string& folder);

void register_idx(Registry& registry);
void register_cifar(Registry& registry);
void register_synthetic(Registry& registry);

}  // namespace datasets
}  // namespace narrow
