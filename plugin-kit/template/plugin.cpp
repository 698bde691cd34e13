// The plugin's entry point. narrow opens the library, calls the function NARROW_PLUGIN
// declares, checks the plugin API version and the build ABI it reports, and only then calls
// the registration function below. Keep this file to the registration: the space lives in
// mlp_space.hpp/.cpp.
#include "narrow/plugin.hpp"
#include "mlp_space.hpp"

namespace {

// Adds one factory per object the plugin provides. narrow runs this against an empty staging
// registry first: if it throws, or registers a name another plugin already has, nothing of
// this plugin is kept. The name given here ("mlp") is what experiment files and
// `narrow describe --space` use; the plugin's own name below is what `narrow plugins` shows.
void register_template_mlp(narrow::Registry& registry) {
  registry.add<template_mlp::MlpSpace>(
      "mlp", "multilayer perceptrons: hidden linear layers with ReLU or ReLU6, optional dropout",
      template_mlp::MlpSpace::schema());
}

}  // namespace

// Once per library, at global scope: the plugin's name, its version, its registration function.
NARROW_PLUGIN("template_mlp", "1.0.0", register_template_mlp)
