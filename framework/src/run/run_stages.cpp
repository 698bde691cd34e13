#include "run/run_stages.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/format.hpp"
#include "narrow/hash.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"
#include "run/runs.hpp"

namespace fs = std::filesystem;

namespace narrow {

namespace {

class Context final : public StageContext {
 public:
  Context(std::string stage, std::string strategy, std::uint64_t seed, int threads, const std::vector<SpaceEntry>& spaces,
          const Constraints& constraints, Store& store, std::string output_dir,
          const Registry& registry, const DatasetSpec& dataset,
          const std::vector<FormatEntry>& formats, std::function<TrainingService&()> training,
          Device* device, StagePlan plan)
      : stage_(std::move(stage)),
        strategy_(std::move(strategy)),
        seed_(seed),
        threads_(threads),
        spaces_(spaces),
        constraints_(constraints),
        store_(store),
        output_dir_(std::move(output_dir)),
        registry_(registry),
        dataset_(dataset),
        formats_(formats),
        training_(std::move(training)),
        device_(device),
        plan_(std::move(plan)) {}
  const Registry& registry() const override { return registry_; }
  const DatasetSpec& dataset() const override { return dataset_; }
  const std::vector<FormatEntry>& formats() const override { return formats_; }
  TrainingService& training() override { return training_(); }
  const std::string& output_dir() const override { return output_dir_; }
  const std::string& stage() const override { return stage_; }
  const std::string& strategy() const override { return strategy_; }
  std::uint64_t seed() const override { return seed_; }
  int threads() const override { return threads_; }
  const std::vector<SpaceEntry>& spaces() const override { return spaces_; }
  const Constraints& constraints() const override { return constraints_; }
  Store& store() override { return store_; }
  void info(const std::string& line) override { fmt::print(stderr, "{}\n", line); }
  void set_summary(const std::string& json) override { summary_ = json; }
  const std::string& summary() const { return summary_; }
  Device* device() override { return device_; }
  const StagePlan& plan() const override { return plan_; }

 private:
  std::string stage_, strategy_;
  std::uint64_t seed_;
  int threads_;
  const std::vector<SpaceEntry>& spaces_;
  const Constraints& constraints_;
  Store& store_;
  std::string output_dir_;
  const Registry& registry_;
  const DatasetSpec& dataset_;
  const std::vector<FormatEntry>& formats_;
  std::function<TrainingService&()> training_;
  Device* device_;
  StagePlan plan_;
  std::string summary_ = "{}";
};

}  // namespace

RunPart run_stages(const RunPlan& run, Store& store, Registry& registry, const std::string& out,
                   const RunOptions& options,
                   const std::function<TrainingService&()>& training) {
  const Experiment& x = *run.experiment;
  RunPart part{run.id, run.variant, run.seed, {}, 0};
  std::string dir = out;
  if (!run.id.empty()) {
    dir = (fs::path(out) / run.id).string();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError(fmt::format("cannot create run folder '{}': {}", dir, ec.message()));
  }

  // The dataset every training of the run uses; its split seed comes from the run's seed.
  DatasetSpec dataset;
  if (x.dataset) {
    dataset.name = x.dataset->name;
    dataset.parameters = x.dataset->parameters;
  }
  dataset.seed = dataset_split_seed(run.seed);

  // The experiment's number formats, built once for every stage.
  std::vector<std::unique_ptr<NumberFormat>> made_formats;
  std::vector<FormatEntry> formats;
  for (const auto& f : x.formats) {
    made_formats.push_back(create_format(registry, f.name, f.parameters));
    formats.push_back(FormatEntry{made_formats.back()->name(),
                                  format_key(registry, f.name, f.parameters),
                                  made_formats.back().get(), FormatText{f.name, f.parameters}});
  }
  std::vector<SpaceEntry> spaces;
  for (const auto& s : x.spaces)
    spaces.push_back(SpaceEntry{s.name, s.plugin.name, s.space.get(), s.laws, s.key});

  begin_stored_run(store, run.id, run.variant, run.seed, x.resolved);
  nlohmann::json summaries = nlohmann::json::object();
  const auto run_start = std::chrono::steady_clock::now();
  auto seconds_since = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto end = [&](const std::string& status) {
    set_store_scope(store, run.id, "");
    part.seconds = seconds_since(run_start);
    end_stored_run(store, run.id, status, part.seconds, summaries.dump());
  };
  try {
    for (std::size_t index = 0; index < x.stages.size(); ++index) {
      const ExperimentStage& stage = x.stages[index];
      const auto strategy = registry.make<Strategy>(stage.strategy.name,
                                                    stage.strategy.parameters,
                                                    stage.strategy.where);
      // The stage's seed comes from the run's seed and the stage's name, not the variant's:
      // a stage a variant leaves as it is draws the same and reuses the stored units.
      Context ctx(stage.name, stage.strategy.name,
                  content_seed(fmt::format("{}|stage|{}", run.seed, stage.name)), options.threads,
                  spaces, x.constraints, store, dir, registry, dataset, formats, training,
                  x.device_object.get(), stage_plan(x, index, &registry));
      set_store_scope(store, run.id, stage.name);
      const auto t0 = std::chrono::steady_clock::now();
      StageReport sr{stage.name, stage.strategy.name, "{}", 0};
      try {
        strategy->run(ctx);
      } catch (...) {
        sr.summary = ctx.summary();
        sr.seconds = seconds_since(t0);
        part.stages.push_back(sr);
        throw;
      }
      sr.summary = ctx.summary();
      sr.seconds = seconds_since(t0);
      part.stages.push_back(sr);
      set_store_scope(store, run.id, "");
      nlohmann::json summary = nlohmann::json::object();
      try {
        summary = nlohmann::json::parse(sr.summary);
      } catch (const nlohmann::json::exception&) {
        summary = sr.summary;  // a strategy's summary that is not JSON is kept as text
      }
      summaries[stage.name] = {
          {"strategy", sr.strategy}, {"seconds", sr.seconds}, {"summary", summary}};
      if (run.id.empty()) store.set_meta("stage." + stage.name, sr.summary);
    }
  } catch (...) {
    end("failed");
    throw;
  }
  end("finished");
  test_kill_point("run-finished:" + run.id);
  return part;
}

}  // namespace narrow
