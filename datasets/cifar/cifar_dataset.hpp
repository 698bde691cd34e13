#pragma once
// Dataset `cifar`: CIFAR-10 and CIFAR-100 (Krizhevsky 2009), "binary version", raw or gzipped.
// A file is a sequence of records: the label byte(s), then 3 x 32 x 32 pixel bytes, channel by
// channel (red, green, blue), row by row. CIFAR-10 records have one label byte; CIFAR-100
// records have two, the coarse label (0..19), then the fine label (0..99), which is the class.
#include <string>
#include <vector>

#include "narrow/dataset.hpp"

namespace narrow::datasets {

class CifarDataset final : public Dataset {
 public:
  /// Parameters: path (the folder of the binary version), variant (cifar10, cifar100).
  explicit CifarDataset(const Parameters& p);
  static ParamSchema schema();

  /// Reads every file of the variant once all are found; bad files are InputErrors naming
  /// the file.
  RawDataset read() const override;
  /// Counts the records of every file from its size; labels and pixels are not read.
  DatasetDescription describe() const override;

 private:
  struct Files {
    std::vector<std::string> train, test;
  };
  /// The folder checked and every file of the variant found (raw or gzipped).
  Files files() const;

  std::string folder_, variant_;
};

}  // namespace narrow::datasets
