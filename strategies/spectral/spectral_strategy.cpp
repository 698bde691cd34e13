#include "spectral_strategy.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "clustering.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/laws.hpp"
#include "narrow/output_file.hpp"
#include "narrow/progress.hpp"
#include "narrow/store.hpp"
#include "population.hpp"

namespace narrow::strategies {

namespace {

constexpr const char* search_strategy = "genetic_law";

/// One population to cluster, with its space.
struct Job {
  const Record* record = nullptr;
  spectral::Population population;
  const SpaceEntry* entry = nullptr;
  std::size_t space_position = 0;
};

std::string cluster_note(const spectral::Population& p, const spectral::Cluster& c,
                         std::size_t index, std::size_t clusters) {
  const spectral::PopulationLaw& best = p.laws[c.best];
  return fmt::format(
      "cluster {} of {} ({} law{}) of the search for {} {}..{}: cost {:.3g}, log10 mean {:.3g}, "
      "sigma {:.3g}",
      index, clusters, c.members.size(), c.members.size() == 1 ? "" : "s", p.metric,
      spectral::short_number(p.low), spectral::short_number(p.high), best.law.cost, best.mean,
      best.sigma);
}

/// The unit of one population: its clusters' best laws as learned laws, `order` from
/// `position` so that the laws of all units sort by space, window and cluster.
StageContext::UnitOutput cluster_population(const Job& job, const spectral::Options& options,
                                            std::size_t position) {
  const spectral::Population& p = job.population;
  std::vector<spectral::Bounds> bounds;
  for (const Variable& v : job.entry->space->variables()) bounds.push_back({v.min, v.max});
  std::vector<spectral::LawPoint> points;
  for (const auto& l : p.laws) points.push_back(l.law);
  const spectral::Clustering c = spectral::cluster_laws(points, bounds, options);
  StageContext::UnitOutput out;
  nlohmann::json names = nlohmann::json::array();
  for (std::size_t i = 0; i < c.clusters.size(); ++i) {
    const spectral::Cluster& cl = c.clusters[i];
    LearnedLaw law;
    law.law.name = fmt::format("{}.{}.c{}", p.space, p.window_name, i);
    law.law.low = p.laws[cl.best].law.low;
    law.law.high = p.laws[cl.best].law.high;
    law.target = LawTarget{p.metric, p.low, p.high};
    law.note = cluster_note(p, cl, i, c.clusters.size());
    law.order = std::int64_t(position) * options.k + std::int64_t(i);
    out.records.push_back(learned_law_record(*job.entry, law));
    names.push_back(law.law.name);
  }
  nlohmann::json eigenvalues = nlohmann::json::array();
  for (Eigen::Index i = 0; i < c.eigenvalues.size(); ++i) eigenvalues.push_back(c.eigenvalues(i));
  const nlohmann::json result{{"space", p.space},
                              {"window", p.window_name},
                              {"population", p.laws.size()},
                              {"usable", c.usable},
                              {"distinct", c.distinct},
                              {"clusters", c.clusters.size()},
                              {"bandwidth", c.bandwidth},
                              {"isolated", c.isolated},
                              {"eigenvalues", eigenvalues},
                              {"note", c.note},
                              {"laws", names}};
  out.result = result.dump();
  return out;
}

}  // namespace

ParamSchema SpectralStrategy::schema() {
  return {
      ParamSpec::string("search", "",
                        "the genetic_law stage whose final populations to cluster (empty: the "
                        "nearest genetic_law stage before this one)"),
      ParamSpec::integer("k", 10, 2, 1000, "clusters of each population: laws kept per window"),
      ParamSpec::real("bandwidth", 0, 0, 1000,
                      "width of the Gaussian kernel on laws' normalised limits (0: the median "
                      "distance between the population's distinct laws)"),
      ParamSpec::integer("restarts", 10, 1, 1000,
                         "k-means runs from seeded k-means++ starts; the lowest inertia is kept"),
  };
}

SpectralStrategy::SpectralStrategy(const Parameters& p)
    : search_(p.string("search")),
      k_(p.integer("k")),
      restarts_(p.integer("restarts")),
      bandwidth_(p.real("bandwidth")) {}

// The genetic_law stage to cluster: `search`, or the nearest one before this stage.
std::string SpectralStrategy::search_stage(const StagePlan& plan) const {
  if (!search_.empty()) {
    plan.require_earlier("search", search_, search_strategy);
    return search_;
  }
  for (auto e = plan.earlier.rbegin(); e != plan.earlier.rend(); ++e)
    if (e->strategy == search_strategy) return e->name;
  throw ParameterError("search", fmt::format("stage '{}' clusters the populations of a '{}' "
                                             "stage, and no stage before it is one",
                                             plan.stage, search_strategy));
}

void SpectralStrategy::check(const StagePlan& plan) const { (void)search_stage(plan); }

void SpectralStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  const std::string search = search_stage(ctx.plan());
  const std::vector<Record> records = store.records(spectral::population_kind, search);
  if (records.empty())
    throw Error(fmt::format("stage '{}': stage '{}' stored no population (records of kind '{}')",
                            ctx.stage(), search, spectral::population_kind));

  // Populations by space (in the experiment's order), then window: units of the search
  // finished in any order, the laws and their files do not depend on it.
  std::vector<Job> jobs;
  for (const Record& r : records) {
    Job job{&r, spectral::parse_population(
                    r.data, fmt::format("population of stage '{}' (unit {})", search, r.unit))};
    const auto& spaces = ctx.spaces();
    for (std::size_t s = 0; s < spaces.size(); ++s)
      if (spaces[s].name == job.population.space) job.entry = &spaces[s], job.space_position = s;
    if (job.entry == nullptr || job.entry->key != job.population.space_key)
      throw Error(fmt::format(
          "stage '{}': the population of stage '{}' for window {} was searched in space '{}' "
          "as it was then, which this experiment {}",
          ctx.stage(), search, job.population.window_name, job.population.space,
          job.entry == nullptr ? "does not have" : "has with other parameters or plugin version"));
    jobs.push_back(std::move(job));
  }
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return std::tie(a.space_position, a.population.low, a.population.high, a.record->unit) <
           std::tie(b.space_position, b.population.low, b.population.high, b.record->unit);
  });

  const int k = int(k_);
  std::vector<StageContext::Unit> units;
  for (std::size_t position = 0; position < jobs.size(); ++position) {
    const Job& job = jobs[position];
    UnitKey key = ctx.unit_key(1)
                      .add("k", k_)
                      .add("bandwidth", fmt::format("{:.17g}", bandwidth_))
                      .add("restarts", restarts_)
                      .add("population", job.record->unit)
                      .add("position", std::uint64_t(position))
                      .add("seed", ctx.seed());
    const spectral::Options options{
        k, bandwidth_, int(restarts_),
        content_seed(fmt::format("{}|{}", ctx.seed(), job.record->unit))};
    units.push_back({std::move(key), "spectral.clustering", [&job, options, position] {
                       return cluster_population(job, options, position);
                     }});
  }
  Progress progress(fmt::format("{} clustering", ctx.stage()), units.size(), "populations");
  const std::vector<std::string> results =
      ctx.once_each(units, [&](std::size_t done) { progress.update(done); });
  progress.finish();

  std::size_t fewer = 0;
  for (const std::string& text : results) {
    const auto r = nlohmann::json::parse(text);
    const std::string note = r.at("note");
    if (r.at("clusters").get<std::size_t>() < std::size_t(k)) ++fewer;
    ctx.info(fmt::format("{} {} {}: {} laws ({} usable, {} distinct), {} clusters{}{}", ctx.stage(),
                         r.at("space").get<std::string>(), r.at("window").get<std::string>(),
                         r.at("population").get<std::size_t>(), r.at("usable").get<std::size_t>(),
                         r.at("distinct").get<std::size_t>(), r.at("clusters").get<std::size_t>(),
                         note.empty() ? "" : ": ", note));
    if (r.at("isolated").get<std::size_t>() > 0)
      ctx.info(fmt::format(
          "{} {} {}: {} laws have no neighbour under kernel width {:.3g}; a wider "
          "`bandwidth` (0: the median distance) joins them",
          ctx.stage(), r.at("space").get<std::string>(), r.at("window").get<std::string>(),
          r.at("isolated").get<std::size_t>(), r.at("bandwidth").get<double>()));
  }

  // One law file per space, in the syntax of an experiment's `laws: FILE`.
  nlohmann::json files = nlohmann::json::array();
  std::size_t total = 0;
  for (const auto& [space, laws] : laws_by_space(stored_laws(store, ctx.stage()))) {
    const std::string path = (std::filesystem::path(ctx.output_dir()) /
                              fmt::format("{}-laws-{}.yaml", ctx.stage(), space))
                                 .string();
    write_output_file(path, learned_law_file(laws, ctx.stage()), "law file");
    ctx.info(fmt::format("{}: {} laws of space '{}' written to {}", ctx.stage(), laws.size(), space,
                         path));
    files.push_back({{"space", space}, {"laws", laws.size()}, {"file", path}});
    total += laws.size();
  }
  ctx.set_summary(nlohmann::json{
      {"search", search},
      {"populations", results.size()},
      {"fewer_than_k", fewer},
      {"laws", total},
      {"files",
       files}}.dump());
}

}  // namespace narrow::strategies
