#include "run/torch_engine.hpp"

#include <mutex>

#include <fmt/format.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "narrow/errors.hpp"

namespace narrow {

TorchEngine::~TorchEngine() = default;

TorchEngine& torch_engine() {
  static std::mutex mutex;
  static TorchEngine* engine = nullptr;
  static boost::dll::shared_library* library = nullptr;  // kept until the process ends
  std::lock_guard lock(mutex);
  if (engine) return *engine;
  boost::dll::fs::error_code ec;
  const auto self = boost::dll::this_line_location(ec);
  if (ec) throw Error(fmt::format("cannot find libnarrow's own location: {}", ec.message()));
  const auto path = self.parent_path() / "libnarrow_torch.so";
  library = new boost::dll::shared_library(path, boost::dll::load_mode::rtld_now, ec);
  if (ec || !library->is_loaded())
    throw Error(fmt::format("cannot load narrow's LibTorch engine {}: {}", path.string(),
                            ec ? ec.message() : std::string("not loaded")));
  if (!library->has("narrow_torch_engine"))
    throw Error(fmt::format("{} has no entry point narrow_torch_engine", path.string()));
  engine = library->get<TorchEngine*()>("narrow_torch_engine")();
  return *engine;
}

LatencyMeasurement measure_on_this_cpu(const Architecture& arch, const LatencyOptions& options) {
  return torch_engine().measure_latency(arch, options);
}

}  // namespace narrow
