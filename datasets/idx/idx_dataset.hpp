#pragma once
// Dataset `idx`: the MNIST family of files (MNIST, Fashion-MNIST, KMNIST, ...) in the IDX
// format of LeCun et al., raw or gzipped. Big-endian header: magic 0x00000803, count, rows,
// columns for images of unsigned bytes; magic 0x00000801, count for labels.
#include <cstdint>
#include <string>

#include "narrow/dataset.hpp"

namespace narrow::datasets {

class IdxDataset final : public Dataset {
 public:
  /// Parameters: path (the folder of the four files), classes.
  explicit IdxDataset(const Parameters& p);
  static ParamSchema schema();

  /// Reads the four files once all are found; bad files are InputErrors naming the file.
  RawDataset read() const override;
  /// The four headers, checked against the files' sizes; labels are not read.
  DatasetDescription describe() const override;

 private:
  struct Files {
    std::string train_images, train_labels, test_images, test_labels;
  };
  /// The folder checked and the four files found (raw or gzipped).
  Files files() const;

  std::string folder_;
  std::int64_t classes_;
};

}  // namespace narrow::datasets
