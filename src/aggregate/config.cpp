// The [aggregate] job section turned into an AggregateConfig, and the bounds each rule
// needs once the rank count and the genesis weights are known. Refusals are config errors
// (exit 2) that name the key to change.
#include <limits>

#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

Result<Rule> parse_rule(const std::string& name) {
  if (name == "fedavg") return Rule::kFedAvg;
  if (name == "median") return Rule::kMedian;
  if (name == "trimmed_mean") return Rule::kTrimmedMean;
  if (name == "krum") return Rule::kKrum;
  if (name == "multi_krum") return Rule::kMultiKrum;
  return config_error(
      "aggregate.rule = '{}' is not a rule: use fedavg, median, trimmed_mean, krum or "
      "multi_krum",
      name);
}

}  // namespace

const char* rule_name(Rule rule) {
  switch (rule) {
    case Rule::kFedAvg:
      return "fedavg";
    case Rule::kMedian:
      return "median";
    case Rule::kTrimmedMean:
      return "trimmed_mean";
    case Rule::kKrum:
      return "krum";
    case Rule::kMultiKrum:
      return "multi_krum";
  }
  return "unknown";
}

Result<AggregateConfig> aggregate_config(const AggregateSection& section) {
  auto rule = parse_rule(section.rule);
  if (!rule) return rule.error();
  auto quantize = make_quantize_params(section.scale_bits, section.clip);
  if (!quantize) return quantize.error();

  AggregateConfig config;
  config.rule = *rule;
  config.quantize = *quantize;
  if (section.exchange == "auto") {
    config.exchange = *rule == Rule::kFedAvg ? Exchange::kAllreduce : Exchange::kAllgather;
  } else if (section.exchange == "allreduce") {
    if (*rule != Rule::kFedAvg) {
      return config_error(
          "aggregate.exchange = 'allreduce' carries only the weighted sum, but "
          "aggregate.rule = '{}' needs every update; use exchange = 'allgather' or 'auto'",
          section.rule);
    }
    config.exchange = Exchange::kAllreduce;
  } else if (section.exchange == "allgather") {
    config.exchange = Exchange::kAllgather;
  } else {
    return config_error("aggregate.exchange = '{}' is not one of auto, allreduce, allgather",
                        section.exchange);
  }
  if (!(section.trim_beta >= 0.0 && section.trim_beta < 0.5)) {
    return config_error("aggregate.trim_beta = {} must be >= 0 and < 0.5", section.trim_beta);
  }
  if (section.krum_f < 0) {
    return config_error("aggregate.krum_f = {} must be >= 0", section.krum_f);
  }
  if (section.multi_krum_m < 0) {
    return config_error("aggregate.multi_krum_m = {} must be >= 0 (0 takes n - krum_f)",
                        section.multi_krum_m);
  }
  config.trim_beta = section.trim_beta;
  config.krum_f = section.krum_f;
  config.multi_krum_m = section.multi_krum_m;
  return config;
}

std::int64_t trim_count(double beta, std::int64_t n) {
  // One IEEE multiplication and a floor: the same on every rank.
  return static_cast<std::int64_t>(beta * static_cast<double>(n));
}

Status check_bounds(const AggregateConfig& config, std::span<const std::int64_t> weights) {
  const auto n = static_cast<std::int64_t>(weights.size());
  if (n < 1) return config_error("aggregation needs at least one update, got none");
  const std::int64_t bound = config.quantize.clip_bound;
  // fedavg (and multi_krum's average): |sum w_i q_i| <= B * sum w_i must fit in int64.
  const std::int64_t max_total = std::numeric_limits<std::int64_t>::max() / bound;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] < 1) {
      return config_error("the weight (sample count) of update {} is {}; every weight must be >= 1",
                          i, weights[i]);
    }
    if (weights[i] > max_total - total) {
      return config_error(
          "the sample counts add up to more than (2^63 - 1) / B = {} (B = {}), so the int64 "
          "weighted sum could overflow; lower aggregate.clip or aggregate.scale_bits",
          max_total, bound);
    }
    total += weights[i];
  }
  const std::int64_t f = config.krum_f;
  switch (config.rule) {
    case Rule::kFedAvg:
    case Rule::kMedian:
      return {};
    case Rule::kTrimmedMean: {
      const auto trim = trim_count(config.trim_beta, n);
      if (n - 2 * trim < 1) {
        return config_error(
            "aggregate.trim_beta = {} cuts {} of {} values from each end, leaving none",
            config.trim_beta, trim, n);
      }
      return {};
    }
    case Rule::kKrum:
    case Rule::kMultiKrum: {
      if (n < 2 * f + 3) {
        return config_error(
            "aggregate.krum_f = {} needs n >= 2 * krum_f + 3 = {} updates, but there are {}; "
            "lower aggregate.krum_f or run more ranks",
            f, 2 * f + 3, n);
      }
      if (config.rule == Rule::kMultiKrum && config.multi_krum_m > n - f) {
        return config_error(
            "aggregate.multi_krum_m = {} must be <= n - krum_f = {} (0 takes n - krum_f)",
            config.multi_krum_m, n - f);
      }
      return {};
    }
  }
  return {};
}

}  // namespace fedchain::aggregate
